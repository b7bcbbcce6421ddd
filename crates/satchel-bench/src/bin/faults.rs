//! The fault campaign (issue 16): every fault under load, one at a time, each against
//! store processes of its own; prints the table and, with `--write-doc`, puts it in
//! `docs/reliability.md` between its `faults:begin`/`faults:end` markers. `scripts/faults`
//! runs it.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use satchel_bench::faults::{self, report, Fault, Params};

#[derive(Parser, Debug)]
#[command(about = "Faults under load: error window, latency, recovery and the ledger per fault")]
struct Args {
    /// The quick version (1 cycle, 8 clients) instead of the full campaign.
    #[arg(long)]
    quick: bool,
    /// Only these faults (names as in the table's first column's key: redis-kill, ...).
    #[arg(long, value_delimiter = ',')]
    faults: Vec<String>,
    /// Clients (default: 32, or 8 with --quick).
    #[arg(long)]
    clients: Option<usize>,
    /// Cycles per fault (default: 3, or 1 with --quick).
    #[arg(long)]
    cycles: Option<usize>,
    /// Seconds of MemoryStore soak after the faults (0: none).
    #[arg(long, default_value_t = 0)]
    soak: u64,
    /// Idle timeout of the soak's sessions, seconds.
    #[arg(long, default_value_t = 5)]
    soak_idle: u64,
    /// Write the tables into this Markdown file between the markers.
    #[arg(long)]
    write_doc: Option<PathBuf>,
    /// A note put above the tables (machine, load).
    #[arg(long, default_value = "")]
    note: String,
}

const BEGIN: &str = "<!-- faults:begin (written by `scripts/faults`; do not edit by hand) -->";
const END: &str = "<!-- faults:end -->";

fn main() -> anyhow::Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let args = Args::parse();
    let mut p = if args.quick {
        Params::quick()
    } else {
        Params::full()
    };
    if let Some(c) = args.clients {
        p.load.clients = c;
    }
    if let Some(c) = args.cycles {
        p.cycles = c;
    }
    let list: Vec<Fault> = if args.faults.is_empty() {
        Fault::ALL.to_vec()
    } else {
        args.faults
            .iter()
            .map(|n| Fault::parse(n).with_context(|| format!("unknown fault {n:?}")))
            .collect::<anyhow::Result<_>>()?
    };
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for f in list {
        eprintln!("faults: {} ...", f.name());
        match faults::run(f, &p) {
            Ok(row) => {
                eprintln!("{}", report::table(std::slice::from_ref(&row)));
                rows.push(row);
            }
            Err(e) => {
                eprintln!("faults: {} FAILED to run: {e:#}", f.name());
                failures.push(format!("{}: {e:#}", f.name()));
            }
        }
    }
    let mut out = String::new();
    if !args.note.is_empty() {
        out.push_str(&args.note);
        out.push_str("\n\n");
    }
    out.push_str(&format!(
        "{} clients, {} cycle(s) per fault, {} ms between two requests of a client, log out and in every {} increments; \
         hang limit {:.1} s (2 × timeout + 1 s). Run on {} ({} CPUs), {}.\n\n",
        p.load.clients,
        p.cycles,
        p.load.think.as_millis(),
        p.load.logout_every,
        p.hang_limit().as_secs_f64(),
        satchel_bench::sys::cpu_model(),
        satchel_bench::sys::nproc(),
        satchel_bench::sys::today_utc(),
    ));
    out.push_str(&report::table(&rows));
    for f in &failures {
        out.push_str(&format!("\n- **did not run**: {f}\n"));
    }
    if args.soak > 0 {
        eprintln!("faults: soak {} s ...", args.soak);
        let s = faults::soak::run(
            Duration::from_secs(args.soak),
            p.load.clients,
            Duration::from_secs(args.soak_idle),
        )?;
        out.push_str("\nMemoryStore soak (RSS of the whole harness process: app and clients):\n\n");
        out.push_str(&s.markdown());
    }
    println!("{out}");
    if let Some(path) = args.write_doc {
        let doc =
            std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
        let (head, rest) = doc.split_once(BEGIN).context("no faults:begin marker")?;
        let (_, tail) = rest.split_once(END).context("no faults:end marker")?;
        std::fs::write(&path, format!("{head}{BEGIN}\n{out}\n{END}{tail}"))?;
        eprintln!("faults: wrote {}", path.display());
    }
    anyhow::ensure!(
        failures.is_empty(),
        "{} fault(s) did not run",
        failures.len()
    );
    Ok(())
}
