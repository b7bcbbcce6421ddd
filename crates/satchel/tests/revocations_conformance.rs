//! The revocation-store conformance checks against the in-memory deny-list.

use satchel::sealed::MemoryRevocations;

#[tokio::test]
async fn memory_revocations_pass_the_conformance_checks() {
    satchel::revocations_conformance::run(&MemoryRevocations::new()).await;
}
