//! The fault harness (issue 16): store processes of its own on loopback, an app on the
//! session layer, N clients with a ledger each, and one fault at a time injected under
//! the load. The `faults` binary runs the campaign and writes the table of
//! `docs/reliability.md`; `tests/faults_quick.rs` runs each fault once, small, in CI.

pub mod app;
pub mod load;
pub mod procs;
pub mod report;
pub mod scenario;
pub mod soak;

pub use scenario::{run, Fault, Params};
