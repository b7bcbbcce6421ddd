//! How admin commands print: aligned plain-text tables for people, JSON for scripts,
//! a progress spinner on stderr only when stdout is a terminal.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, UNIX_EPOCH};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use satchel::admin::SessionSummary;
use satchel::Timestamp;

/// A reference as printed: the first 12 hex digits of the store key (`StoreKey::short`,
/// as `satchel::anomaly` logs it).
pub(crate) fn reference(summary: &SessionSummary) -> String {
    summary.key.short()
}

/// `t` as RFC 3339 UTC, to the second.
pub(crate) fn time(t: Timestamp) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(t.as_millis().min(253_402_300_799_000));
    humantime::format_rfc3339_seconds(at).to_string()
}

/// `t` relative to `now`, compact: `in 29m`, `3h ago`.
pub(crate) fn relative(t: Timestamp, now: Timestamp) -> String {
    if t >= now {
        format!("in {}", compact(t.saturating_since(now)))
    } else {
        format!("{} ago", compact(now.saturating_since(t)))
    }
}

/// The largest whole unit of `d`: `45s`, `29m`, `3h`, `12d`.
pub(crate) fn compact(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3_599 => format!("{}m", s / 60),
        3_600..=86_399 => format!("{}h", s / 3_600),
        _ => format!("{}d", s / 86_400),
    }
}

/// A user-supplied string made safe to print on a terminal: control characters (an
/// owner could be `\x1b[2J…`) are shown escaped.
pub(crate) fn printable(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

/// Prints `rows` under `header` with columns padded to their widest cell.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        println!("{}", out.trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// Prints `value` as pretty JSON.
pub(crate) fn json(value: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".to_owned())
    );
}

/// How long a scan or purge runs before its spinner shows: short ones print nothing.
const SPINNER_AFTER: Duration = Duration::from_millis(500);

/// A spinner counting `what` on stderr, for long scans and purges: drawn only when stdout
/// is a terminal and the output is not JSON (scripts and pipes get no control
/// sequences), and only once the work has taken [`SPINNER_AFTER`].
#[derive(Debug)]
pub(crate) struct Spinner {
    bar: ProgressBar,
    /// `None`: never to be drawn.
    started: Option<Instant>,
    shown: AtomicBool,
}

impl Spinner {
    /// Counts `n` more items (shows the spinner once the work is long).
    pub(crate) fn inc(&self, n: u64) {
        self.bar.inc(n);
        let Some(started) = self.started else {
            return;
        };
        if started.elapsed() >= SPINNER_AFTER && !self.shown.swap(true, Ordering::Relaxed) {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
            self.bar.enable_steady_tick(Duration::from_millis(120));
        }
    }

    /// Removes the spinner (if it was drawn).
    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// The spinner of one scan or purge, counting `what`.
pub(crate) fn progress(what: &'static str, json: bool) -> Spinner {
    let bar = ProgressBar::hidden();
    let style = ProgressStyle::with_template("{spinner} {pos} {msg} ({per_sec}, {elapsed})")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    bar.set_style(style);
    bar.set_message(what);
    let draw = !json && std::io::stdout().is_terminal();
    Spinner {
        bar,
        started: draw.then(Instant::now),
        shown: AtomicBool::new(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_well() {
        assert_eq!(time(Timestamp::from_millis(0)), "1970-01-01T00:00:00Z");
        assert_eq!(
            time(Timestamp::from_millis(1_764_672_000_999)),
            "2025-12-02T10:40:00Z"
        );
        let now = Timestamp::from_millis(10_000_000);
        assert_eq!(
            relative(Timestamp::from_millis(10_000_000 + 1_800_000), now),
            "in 30m"
        );
        assert_eq!(
            relative(Timestamp::from_millis(10_000_000 - 7_200_000), now),
            "2h ago"
        );
        assert_eq!(compact(Duration::from_secs(3 * 86_400)), "3d");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(printable("alice"), "alice");
        assert_eq!(printable("a\u{1b}[2Jb\n"), "a\\u{1b}[2Jb\\n");
    }
}
