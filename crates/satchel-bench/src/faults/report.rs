//! From the samples and the fault times of a run to one table row: the error window, the
//! latency during the fault, the time to recover, and the ledger.

use std::fmt::Write as _;
use std::time::Duration;

use super::load::{Ledger, Sample};

/// When one injected fault began and when the store was back.
#[derive(Debug, Clone, Copy)]
pub struct Cycle {
    /// The fault was injected (kill, stop, failover command, reshard start).
    pub inject: Duration,
    /// The store was back: restarted and answering, continued, new primary named,
    /// reshard finished.
    pub back: Duration,
}

/// One fault's results over all its cycles.
#[derive(Debug, Clone)]
pub struct Row {
    /// The fault.
    pub fault: String,
    /// The store configuration.
    pub config: String,
    /// Cycles run.
    pub cycles: usize,
    /// Clients.
    pub clients: usize,
    /// Requests sent.
    pub requests: usize,
    /// Requests answered 503.
    pub unavailable: usize,
    /// Requests answered otherwise not 2xx/401/503, or not answered (transport error).
    pub other_errors: usize,
    /// Longest error window of one cycle: first failed request to the end of the last.
    pub error_window: Duration,
    /// Highest latency of requests sent during a fault (inject to recovered).
    pub max_latency: Duration,
    /// p99 latency of those requests.
    pub p99_latency: Duration,
    /// Longest time, over the cycles, from the store being back to the end of the last
    /// failed request (0: the first request after it succeeded).
    pub recovery: Duration,
    /// Whether every cycle recovered before the harness's deadline.
    pub recovered: bool,
    /// Requests slower than the hang limit.
    pub hung: usize,
    /// The hang limit used.
    pub hang_limit: Duration,
    /// Requests the client gave up on after [`super::load::CLIENT_CAP`]: never answered.
    pub capped: usize,
    /// Panics in the process while the run lasted.
    pub panics: u64,
    /// The clients' ledgers, summed.
    pub ledger: Ledger,
}

fn failed(s: &Sample) -> bool {
    s.status == 0 || (s.status >= 500)
}

/// The start of the first and the end of the last failed request in `samples` sent at or
/// after `from` and finished before `to`.
pub fn failure_span(
    samples: &[Sample],
    from: Duration,
    to: Duration,
) -> Option<(Duration, Duration)> {
    let mut first = None::<Duration>;
    let mut last = None::<Duration>;
    // Requests still in flight when the next fault hit (ending after `to`) belong to it.
    for s in samples
        .iter()
        .filter(|s| s.at >= from && s.at + s.latency < to && failed(s))
    {
        first = Some(first.map_or(s.at, |f| f.min(s.at)));
        let end = s.at + s.latency;
        last = Some(last.map_or(end, |l| l.max(end)));
    }
    Some((first?, last?))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Builds the row. `cycles[i]` ends where `cycles[i + 1]` begins (the last at `end`).
#[allow(clippy::too_many_arguments)]
pub fn row(
    fault: &str,
    config: &str,
    clients: usize,
    samples: &[Sample],
    cycles: &[Cycle],
    end: Duration,
    recovered: bool,
    hang_limit: Duration,
    panics: u64,
    ledger: Ledger,
) -> Row {
    let mut error_window = Duration::ZERO;
    let mut recovery = Duration::ZERO;
    let mut during = Vec::new();
    for (i, c) in cycles.iter().enumerate() {
        let next = cycles.get(i + 1).map_or(end, |n| n.inject);
        let span = failure_span(samples, c.inject, next);
        // One line per cycle on stderr, to tell a slow cycle from a slow fault.
        eprintln!(
            "faults: {fault}: cycle {i}: inject {:.2} s, back {:.2} s, failures {}",
            c.inject.as_secs_f64(),
            c.back.as_secs_f64(),
            span.map_or("none".to_owned(), |(a, b)| format!(
                "{:.2} s to {:.2} s",
                a.as_secs_f64(),
                b.as_secs_f64()
            ))
        );
        let mut until = c.back;
        if let Some((first, last)) = span {
            error_window = error_window.max(last.saturating_sub(first));
            recovery = recovery.max(last.saturating_sub(c.back));
            until = until.max(last);
        }
        during.extend(
            samples
                .iter()
                .filter(|s| s.at >= c.inject && s.at <= until)
                .map(|s| s.latency),
        );
    }
    during.sort_unstable();
    Row {
        fault: fault.to_owned(),
        config: config.to_owned(),
        cycles: cycles.len(),
        clients,
        requests: samples.len(),
        unavailable: samples.iter().filter(|s| s.status == 503).count(),
        other_errors: samples
            .iter()
            .filter(|s| failed(s) && s.status != 503)
            .count(),
        error_window,
        max_latency: during.last().copied().unwrap_or_default(),
        p99_latency: percentile(&during, 0.99),
        recovery,
        recovered,
        hung: samples.iter().filter(|s| s.latency > hang_limit).count(),
        hang_limit,
        capped: samples
            .iter()
            .filter(|s| s.latency >= super::load::CLIENT_CAP)
            .count(),
        panics,
        ledger,
    }
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

/// The Markdown table of `rows`.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| fault | store configuration | cycles × clients | requests | 503 | other errors | error window (max) | max / p99 latency in fault | recovery after back (max) | acked increments lost | sessions lost | resurrected | other user's session | past hang limit | panics |\n\
         |---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let recovery = if r.recovered {
            secs(r.recovery)
        } else {
            format!("**not recovered** ({})", secs(r.recovery))
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} × {} | {} | {} | {} | {} | {} / {} | {} | {} of {} | {} | {} of {} logouts | {} | {} (> {}) | {} |",
            r.fault,
            r.config,
            r.cycles,
            r.clients,
            r.requests,
            r.unavailable,
            r.other_errors,
            secs(r.error_window),
            ms(r.max_latency),
            ms(r.p99_latency),
            recovery,
            r.ledger.lost_increments,
            r.ledger.acked,
            r.ledger.sessions_lost,
            r.ledger.resurrected,
            r.ledger.logouts,
            r.ledger.foreign,
            r.hung,
            secs(r.hang_limit),
            r.panics,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(at_ms: u64, lat_ms: u64, status: u16) -> Sample {
        Sample {
            at: Duration::from_millis(at_ms),
            latency: Duration::from_millis(lat_ms),
            status,
        }
    }

    #[test]
    fn window_and_recovery() {
        let samples = [
            s(100, 5, 200),
            s(1000, 10, 503),
            s(1500, 1000, 503),
            s(2400, 5, 503),
            s(2600, 5, 200),
            s(9000, 5, 200),
        ];
        let cycles = [Cycle {
            inject: Duration::from_millis(900),
            back: Duration::from_millis(2000),
        }];
        let r = row(
            "f",
            "c",
            1,
            &samples,
            &cycles,
            Duration::from_secs(10),
            true,
            Duration::from_millis(900),
            0,
            Ledger::default(),
        );
        assert_eq!(r.unavailable, 3);
        // The slow 503 sent at 1500 ends last, at 2500.
        assert_eq!(r.error_window, Duration::from_millis(2500 - 1000));
        assert_eq!(r.recovery, Duration::from_millis(500));
        assert_eq!(r.max_latency, Duration::from_millis(1000));
        assert_eq!(r.hung, 1);
        assert!(table(&[r]).contains("| f | c | 1 × 1 | 6 | 3 | 0 |"));
    }
}
