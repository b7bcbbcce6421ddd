//! `satchel purge --store URL`: deletes expired sessions now, in bounded batches (for
//! deployments that turn the stores' own cleanup task off).

use std::process::ExitCode;

use satchel::Timestamp;

use super::{with_store, PurgeArgs};

pub(crate) fn purge(args: &PurgeArgs) -> ExitCode {
    let batch = args.batch.max(1);
    with_store(&args.sql, "purge", |store| async move {
        let purged = store.purge_all_expired(Timestamp::now(), batch).await?;
        println!("deleted {purged} expired session(s)");
        Ok(())
    })
}
