//! What every demo page shares: escaping, the page frame with its flash list, the CSRF
//! field, and how times are shown.

use std::time::{Duration, UNIX_EPOCH};

use satchel::{Flash, Timestamp};

/// HTML-escapes `s` for text and attribute values.
pub(super) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The hidden CSRF field every form carries; empty for a visitor without a session (the
/// session layer's `Origin` / `Sec-Fetch-Site` check guards those posts).
pub(super) fn csrf_field(csrf: Option<&str>) -> String {
    csrf.map_or_else(String::new, |t| {
        format!(r#"<input type="hidden" name="csrf" value="{}">"#, escape(t))
    })
}

/// A whole page: navigation, the flash list (`#flash`) and `body`.
pub(super) fn page(title: &str, flashes: &[Flash], body: &str) -> String {
    let flash_items: String = flashes
        .iter()
        .map(|f| {
            format!(
                "<li class=\"{}\">{}</li>",
                escape(&f.level),
                escape(&f.message)
            )
        })
        .collect();
    let title = escape(title);
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title} · satchel demo</title>
  <style>
    body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }}
    h1 {{ font-size: 1.6rem; }}
    nav a {{ margin-right: 1rem; }}
    .card {{ border: 1px solid #ddd; border-radius: 8px; padding: 1rem 1.25rem; margin: 1rem 0; }}
    #flash {{ list-style: none; padding: 0; }}
    #flash li {{ padding: .5rem .75rem; border-radius: 6px; margin: .25rem 0; background: #e8f4ff; }}
    #flash li.error {{ background: #ffe8e8; }}
    #flash li.warning {{ background: #fff4d6; }}
    button {{ font: inherit; padding: .3rem .9rem; }}
    .big {{ font-size: 2rem; font-weight: 600; }}
    table {{ border-collapse: collapse; width: 100%; }}
    th, td {{ text-align: left; padding: .4rem .5rem; border-bottom: 1px solid #eee; vertical-align: top; }}
    .muted {{ color: #666; font-size: .9rem; }}
    .badge {{ background: #2a7; color: #fff; border-radius: 4px; padding: 0 .4rem; font-size: .85rem; }}
    dl {{ display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0; }}
    dt {{ color: #555; }} dd {{ margin: 0; }}
  </style>
</head>
<body>
  <nav><a href="/">Home</a><a href="/devices">Your devices</a></nav>
  <h1>{title}</h1>
  <ul id="flash">{flash_items}</ul>
{body}
  <p class="muted">Plain forms, no JavaScript. JSON API: <a href="/api/whoami">/api/whoami</a>, <a href="/api/sessions">/api/sessions</a>.</p>
</body>
</html>
"#
    )
}

/// `at` as an HTTP date ("Wed, 02 Dec 2026 17:05:03 GMT") inside a `<time>` element whose
/// `datetime` is the milliseconds (for tests and scripts), and how far it is from `now`.
pub(super) fn time(at: Timestamp, now: Timestamp) -> String {
    let shown = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_millis(at.as_millis()));
    let relative = if at >= now {
        format!("in {}", span(at.saturating_since(now)))
    } else {
        format!("{} ago", span(now.saturating_since(at)))
    };
    format!(
        r#"<time datetime="{ms}" data-ms="{ms}">{shown}</time> <span class="muted">({relative})</span>"#,
        ms = at.as_millis()
    )
}

/// A duration for people: "3 days 4 h", "2 h 5 min", "4 min", "12 s".
pub(super) fn span(d: Duration) -> String {
    let s = d.as_secs();
    let (days, hours, minutes) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match () {
        () if days > 0 => format!("{days} day{} {hours} h", if days == 1 { "" } else { "s" }),
        () if hours > 0 => format!("{hours} h {minutes} min"),
        () if minutes > 0 => format!("{minutes} min"),
        () => format!("{s} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_like_people_write_them() {
        assert_eq!(span(Duration::from_secs(12)), "12 s");
        assert_eq!(span(Duration::from_secs(4 * 60 + 3)), "4 min");
        assert_eq!(span(Duration::from_secs(2 * 3600 + 5 * 60)), "2 h 5 min");
        assert_eq!(span(Duration::from_secs(86_400 + 3600)), "1 day 1 h");
        assert_eq!(span(Duration::from_secs(30 * 86_400)), "30 days 0 h");
    }

    #[test]
    fn times_are_dates_with_their_distance_from_now() {
        let now = Timestamp::from_millis(1_796_000_000_000);
        let later = now.saturating_add(Duration::from_secs(1800));
        let html = time(later, now);
        assert!(html.contains(r#"data-ms="1796001800000""#), "{html}");
        assert!(
            html.contains("GMT") && html.contains("(in 30 min)"),
            "{html}"
        );
        assert!(time(now, later).contains("(30 min ago)"));
    }

    #[test]
    fn the_frame_escapes_flashes_and_titles() {
        let flashes = [Flash {
            level: "info\"".into(),
            message: "<script>x</script>".into(),
        }];
        let html = page("a<b", &flashes, "");
        assert!(!html.contains("<script>x"));
        assert!(html.contains("a&lt;b") && html.contains("info&quot;"));
    }
}
