//! The demo's one HTML page. Plain forms that POST and redirect back (303), so it works
//! without JavaScript; element ids are what the browser test looks for.

use satchel::Flash;

/// The page; `csrf`: the session's CSRF token, put in every form (none for a visitor
/// without a session).
pub(super) fn render(user: Option<&str>, n: i64, flashes: &[Flash], csrf: Option<&str>) -> String {
    let who = user.map_or_else(|| "anonymous".to_owned(), escape);
    let token = csrf.map_or_else(String::new, |t| {
        format!(r#"<input type="hidden" name="csrf" value="{}">"#, escape(t))
    });
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
    let account = if user.is_some() {
        format!(
            r#"<form id="logout-form" method="post" action="/logout">{token}<button type="submit">Log out</button></form>
      <p><a href="/api/sessions">My sessions (JSON)</a></p>"#
        )
    } else {
        format!(
            r#"<form id="login-form" method="post" action="/login">{token}
        <label>User <input name="user" autocomplete="username" required maxlength="64"></label>
        <button type="submit">Log in</button>
      </form>"#
        )
    };
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>satchel demo</title>
  <style>
    body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 36rem; margin: 3rem auto; padding: 0 1rem; color: #222; }}
    h1 {{ font-size: 1.6rem; }}
    .card {{ border: 1px solid #ddd; border-radius: 8px; padding: 1rem 1.25rem; margin: 1rem 0; }}
    #flash {{ list-style: none; padding: 0; }}
    #flash li {{ padding: .5rem .75rem; border-radius: 6px; margin: .25rem 0; background: #e8f4ff; }}
    #flash li.error {{ background: #ffe8e8; }}
    button {{ font: inherit; padding: .3rem .9rem; }}
    .big {{ font-size: 2rem; font-weight: 600; }}
  </style>
</head>
<body>
  <h1>satchel demo</h1>
  <ul id="flash">{flash_items}</ul>
  <div class="card">
    <p>Signed in as <strong id="user">{who}</strong></p>
    {account}
  </div>
  <div class="card">
    <p>Visits counted: <span id="n" class="big">{n}</span></p>
    <form id="counter-form" method="post" action="/counter">{token}<button type="submit">Increment</button></form>
  </div>
  <p><small>Viewing this page creates no session; the first increment or login does.
  JSON API: <a href="/api/whoami">/api/whoami</a>.</small></p>
</body>
</html>
"#
    )
}

fn escape(s: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_it_prints() {
        let flashes = [Flash {
            level: "info\"".into(),
            message: "<script>x</script>".into(),
        }];
        let html = render(Some("a<b"), 3, &flashes, Some("t\"k"));
        assert!(!html.contains("<script>x"));
        assert!(html.contains("a&lt;b") && html.contains("info&quot;"));
        assert!(html.contains(r#"<span id="n" class="big">3</span>"#));
        assert_eq!(
            html.matches(r#"<input type="hidden" name="csrf" value="t&quot;k">"#)
                .count(),
            2,
            "in the logout and counter forms"
        );
    }

    #[test]
    fn no_token_field_without_a_token() {
        assert!(!render(None, 0, &[], None).contains("csrf"));
    }
}
