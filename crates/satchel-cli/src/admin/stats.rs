//! `satchel stats`: live sessions, the owners with the most, how many expire soon, and
//! the store's round-trip latency from a short probe.
//!
//! The counts come from one full listing (Redis: `SCAN`; SQL: a keyset walk of the
//! table); the probe is `--probe N` loads of random store keys that exist nowhere, each
//! one store round trip (Redis: one `GET`; SQL: one indexed `SELECT`), timed one at a time.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use satchel::{StoreKey, Timestamp};
use serde_json::json;

use super::exit::{self, Failure};
use super::open::{self, AdminStore, StoreArgs};
use super::output;

/// `satchel stats` options.
#[derive(Debug, clap::Args)]
#[command(after_help = exit::HELP)]
pub(crate) struct StatsArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// How many owners to list (those with the most live sessions).
    #[arg(long, default_value_t = 10, value_name = "N")]
    top: usize,
    /// Count the sessions that expire within this window (e.g. 30s, 15m, 1h, 2d).
    #[arg(long, default_value = "1h", value_parser = parse_window, value_name = "WINDOW")]
    within: Duration,
    /// Round trips of the latency probe (0: none).
    #[arg(long, default_value_t = 50, value_name = "N")]
    probe: usize,
    /// JSON for scripts instead of text.
    #[arg(long)]
    json: bool,
}

/// `30s`, `15m`, `1h`, `2d` (humantime's syntax).
fn parse_window(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (e.g. 30s, 15m, 1h, 2d)"))
}

pub(crate) fn run(args: StatsArgs) -> ExitCode {
    open::run(&args.store, "stats", |store| {
        stats(store, args.top, args.within, args.probe, args.json)
    })
}

/// The `p`-th percentile (0..=100) of sorted samples, nearest rank.
pub(crate) fn percentile(sorted: &[Duration], p: u32) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    let rank = (n * p as usize).div_ceil(100).clamp(1, n);
    sorted.get(rank - 1).copied()
}

/// `n` timed loads of absent random keys.
async fn probe(store: &AdminStore, n: usize, now: Timestamp) -> Result<Vec<Duration>, Failure> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let key = StoreKey::from_bytes(rand::random());
        let started = Instant::now();
        store.load(&key, now).await?;
        samples.push(started.elapsed());
    }
    samples.sort();
    Ok(samples)
}

fn micros(d: Option<Duration>) -> Option<u64> {
    d.map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

fn shown(d: Option<Duration>) -> String {
    match d {
        None => "-".to_owned(),
        Some(d) if d < Duration::from_millis(10) => format!("{:.2} ms", d.as_secs_f64() * 1e3),
        Some(d) => format!("{} ms", d.as_millis()),
    }
}

async fn stats(
    store: AdminStore,
    top: usize,
    within: Duration,
    probes: usize,
    json: bool,
) -> Result<(), Failure> {
    let now = Timestamp::now();
    let bar = output::progress("sessions read", json);
    let listed = store.list(None, now, &|n| bar.inc(n)).await;
    bar.finish();
    let sessions = listed?;
    let soon = now.saturating_add(within);
    let expiring = sessions.iter().filter(|s| s.expires_at() <= soon).count();
    let persistent = sessions.iter().filter(|s| s.persistent).count();
    let mut by_owner: HashMap<&str, usize> = HashMap::new();
    for owner in sessions.iter().filter_map(|s| s.owner.as_deref()) {
        *by_owner.entry(owner).or_default() += 1;
    }
    let owned: usize = by_owner.values().sum();
    let owners = by_owner.len();
    let mut ranked: Vec<(&str, usize)> = by_owner.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    ranked.truncate(top);
    let samples = probe(&store, probes, now).await?;
    let (p50, p99) = (percentile(&samples, 50), percentile(&samples, 99));
    if json {
        output::json(&json!({
            "store": store.kind(),
            "live": sessions.len(),
            "logged_in": owned,
            "anonymous": sessions.len() - owned,
            "persistent": persistent,
            "owners": owners,
            "top_owners": ranked.iter().map(|(o, n)| json!({"owner": o, "sessions": n})).collect::<Vec<_>>(),
            "expiring_within_s": within.as_secs(),
            "expiring": expiring,
            "probe": {
                "round_trips": samples.len(),
                "p50_us": micros(p50),
                "p99_us": micros(p99),
            },
        }));
        return Ok(());
    }
    println!("store              {}", store.kind());
    println!("live sessions      {}", sessions.len());
    println!("  logged in        {owned} ({owners} owner(s))");
    println!("  anonymous        {}", sessions.len() - owned);
    println!("  remember me      {persistent}");
    println!("expiring within {:<3}{expiring}", output::compact(within));
    println!(
        "store round trip   p50 {}, p99 {} ({} probe(s))",
        shown(p50),
        shown(p99),
        samples.len()
    );
    if !ranked.is_empty() {
        println!();
        let rows: Vec<Vec<String>> = ranked
            .iter()
            .map(|(o, n)| vec![n.to_string(), output::printable(o)])
            .collect();
        output::table(&["SESSIONS", "OWNER"], &rows);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let ms = |n: u64| Duration::from_millis(n);
        let samples: Vec<Duration> = (1..=100).map(ms).collect();
        assert_eq!(percentile(&samples, 50), Some(ms(50)));
        assert_eq!(percentile(&samples, 99), Some(ms(99)));
        assert_eq!(percentile(&[ms(7)], 99), Some(ms(7)));
        assert_eq!(percentile(&[], 50), None);
        let three = [ms(1), ms(2), ms(3)];
        assert_eq!(percentile(&three, 50), Some(ms(2)));
        assert_eq!(percentile(&three, 99), Some(ms(3)));
    }

    #[test]
    fn windows_parse() {
        assert_eq!(parse_window("15m"), Ok(Duration::from_secs(900)));
        assert!(parse_window("soon").is_err());
    }
}
