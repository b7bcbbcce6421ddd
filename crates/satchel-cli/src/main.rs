//! The `satchel` command: `satchel demo` serves a small web app on the session layer;
//! `satchel migrate` looks after SQL stores; `satchel sessions`, `satchel stats` and
//! `satchel purge` administer any store but memory and cookies.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod admin;
mod cli;
mod demo;
mod redact_url;
mod store_url;
mod weak_secrets;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::run()
}
