//! Weak secrets (SEC-27). The demo's own `SATCHEL_SECRET` goes through
//! `satchel_cookie::Keyring`, which refuses a weak one (exit code 2, see [`is_weak_secret`]).
//! The interop secrets (`--secret` for express-session, `--keys` for koa-session) are the
//! Node app's: refusing them would break every session the two apps share, so a weak one
//! is accepted with a warning that says how to replace it in both apps.

use satchel_cookie::{secret_weakness, KeyError, GENERATE_HINT, MIN_SECRET_LEN};

use crate::cli::DemoArgs;

/// Whether `err` (anywhere in its chain) is a secret the keyring refused: a usage error.
pub(crate) fn is_weak_secret(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| cause.is::<KeyError>())
}

/// Logs one warning per weak `--secret` / `--keys` value, by position (never the value).
pub(crate) fn warn_about_interop_secrets(args: &DemoArgs) {
    let named = [("--secret", &args.secrets), ("--keys", &args.keys)];
    for (flag, values) in named {
        for (i, value) in values.iter().enumerate().filter(|(_, v)| !v.is_empty()) {
            let why = if value.len() < MIN_SECRET_LEN {
                Some("it is shorter than 32 bytes")
            } else {
                secret_weakness(value.as_bytes())
            };
            if let Some(why) = why {
                tracing::warn!(
                    "{flag} value #{n} is too easy to guess ({why}); accepted because the Node \
                     app signs with it too. Replace it in both apps: {GENERATE_HINT}",
                    n = i + 1
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_secret_is_recognised_through_context() {
        let err = satchel_cookie::Keyring::new(1, &[b'a'; 32]).expect_err("weak");
        let err = anyhow::Error::new(err).context("building the cookie keyring");
        assert!(is_weak_secret(&err));
        assert!(!is_weak_secret(&anyhow::anyhow!("port in use")));
    }
}
