//! The admin commands' exit codes: one list, shown in `--help` and docs/admin.md.

use std::process::ExitCode;

/// The store failed or could not be reached (the cause is printed).
pub(crate) const STORE: u8 = 1;
/// Bad usage: unknown or malformed arguments, or a store the command does not apply to
/// (`memory:`, `cookie:`).
pub(crate) const USAGE: u8 = crate::cli::USAGE;
/// The reference matches no live session.
pub(crate) const NOT_FOUND: u8 = 3;
/// The reference matches several sessions: give more characters.
pub(crate) const AMBIGUOUS: u8 = 4;

/// The exit codes as `--help` shows them.
pub(crate) const HELP: &str = "\
Exit codes:
  0  success
  1  the store failed or could not be reached (the cause is printed)
  2  bad usage, or a store this does not apply to (memory:, cookie:)
  3  REF matches no live session
  4  REF matches several sessions (give more characters)";

/// Why an admin command failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// A store error, with its cause chain.
    Store(anyhow::Error),
    /// A reference that matched nothing.
    NotFound(String),
    /// A reference that matched `count` sessions (`count` is a lower bound at the cap).
    Ambiguous { reference: String, count: usize },
    /// Bad usage found after parsing.
    Usage(String),
}

impl From<satchel::StoreError> for Failure {
    fn from(e: satchel::StoreError) -> Self {
        Failure::Store(anyhow::Error::new(e))
    }
}

impl Failure {
    /// Prints the failure and gives its exit code.
    pub(crate) fn report(self, what: &str) -> ExitCode {
        match self {
            Failure::Store(err) => {
                eprintln!("satchel {what}: {err:#}");
                ExitCode::from(STORE)
            }
            Failure::NotFound(reference) => {
                eprintln!("satchel {what}: no live session matches {reference:?}");
                ExitCode::from(NOT_FOUND)
            }
            Failure::Ambiguous { reference, count } => {
                let count = if count >= super::sessions::CANDIDATES {
                    format!("{count} or more")
                } else {
                    count.to_string()
                };
                eprintln!(
                    "satchel {what}: {reference:?} is ambiguous: {count} sessions match (give more characters)"
                );
                ExitCode::from(AMBIGUOUS)
            }
            Failure::Usage(why) => {
                eprintln!("satchel {what}: {why}");
                ExitCode::from(USAGE)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_lists_every_code() {
        for code in [0, STORE, USAGE, NOT_FOUND, AMBIGUOUS] {
            assert!(HELP.contains(&format!("\n  {code}  ")), "{code}");
        }
    }
}
