//! `satchel migrate --store URL`: creates or upgrades the session table.

use std::process::ExitCode;

use super::{with_store, SqlArgs};

pub(crate) fn migrate(args: &SqlArgs) -> ExitCode {
    with_store(args, "migrate", |store| async move {
        let report = store.migrate().await?;
        if report.applied.is_empty() {
            println!("up to date (version {})", report.version);
        } else {
            let applied: Vec<String> = report.applied.iter().map(i64::to_string).collect();
            println!(
                "applied migration(s) {}; now at version {}",
                applied.join(", "),
                report.version
            );
        }
        // The forwards table (id renewal) keeps its own ledger: said only when it moved,
        // so that the line above stays what older builds printed.
        if !report.forwards_applied.is_empty() {
            let applied: Vec<String> = report.forwards_applied.iter().map(i64::to_string).collect();
            println!(
                "forwards table: applied migration(s) {}; now at version {}",
                applied.join(", "),
                report.forwards_version
            );
        }
        Ok(())
    })
}
