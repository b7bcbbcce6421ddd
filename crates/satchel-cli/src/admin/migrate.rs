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
        Ok(())
    })
}
