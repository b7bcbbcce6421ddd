//! [`redact_url`]: a store URL fit for logs and error messages, with every credential
//! replaced by `***` (issue 19 item 7, SEC-36).
//!
//! Hand-written rather than through the `url` crate: store URLs are not all URLs `url`
//! accepts (`redis+sentinel://h1:p1,h2:p2/service` has several hosts, `sqlite::memory:`
//! none), and a URL that fails to parse must still be printed without its password.
//! Everything but the credentials is kept verbatim, so the message still says which
//! store was meant.

/// What replaces a credential.
const MASK: &str = "***";

/// Query parameter names (lower case, matched as substrings) that carry credentials:
/// `password`, `sslpassword`, `pass`, `pwd`, `auth`, `authtoken`, `token`, `secret`,
/// `client_secret`, `key`, `sslkey`, `apikey`, `credentials`, …
const CREDENTIAL_NAMES: &[&str] = &["pass", "pwd", "auth", "token", "secret", "key", "cred"];

/// `url` with the password of its userinfo (`user:***@`) and the value of every
/// credential-like query parameter (`?password=***`) masked.
pub(crate) fn redact_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    if let Some((scheme, after)) = url.split_once("://") {
        out.push_str(scheme);
        out.push_str("://");
        rest = after;
        if let Some((userinfo, after)) = split_userinfo(after) {
            match userinfo.split_once(':') {
                Some((user, _password)) => {
                    out.push_str(user);
                    out.push(':');
                    out.push_str(MASK);
                }
                // A lone name: a user name, not a secret (`postgres://postgres@host`).
                None => out.push_str(userinfo),
            }
            out.push('@');
            rest = after;
        }
    }
    match rest.split_once('?') {
        Some((location, query)) => {
            out.push_str(location);
            out.push('?');
            let pairs: Vec<String> = query.split('&').map(redact_pair).collect();
            out.push_str(&pairs.join("&"));
        }
        None => out.push_str(rest),
    }
    out
}

/// Splits `user:password@host…` (what follows `scheme://`) at the `@` that ends the
/// userinfo: the last one before the query, where the query is the first `?` after the
/// first `@`. So a password with an unescaped `/`, `@` or `?` is still masked, and an `@`
/// in a query value (`?user=a@b`) is not mistaken for one.
fn split_userinfo(rest: &str) -> Option<(&str, &str)> {
    let first_at = rest.find('@')?;
    let query = rest[first_at..]
        .find('?')
        .map_or(rest.len(), |i| first_at + i);
    let at = rest[..query].rfind('@')?;
    Some((&rest[..at], &rest[at + 1..]))
}

/// `name=value` with the value masked when `name` names a credential.
fn redact_pair(pair: &str) -> String {
    match pair.split_once('=') {
        Some((name, _value)) if is_credential(name) => format!("{name}={MASK}"),
        _ => pair.to_owned(),
    }
}

fn is_credential(name: &str) -> bool {
    // Percent-decoding is not needed for the names this matches: none has an escape.
    let name = name.to_ascii_lowercase();
    CREDENTIAL_NAMES.iter().any(|c| name.contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_credential_is_masked() {
        for (url, shown) in [
            (
                "postgres://postgres@127.0.0.1/test?password=hunter2",
                "postgres://postgres@127.0.0.1/test?password=***",
            ),
            (
                "postgres://app:hunter2@db:5432/app?sslmode=disable",
                "postgres://app:***@db:5432/app?sslmode=disable",
            ),
            (
                "mysql://root@db/test?ssl-mode=DISABLED&pass=hunter2",
                "mysql://root@db/test?ssl-mode=DISABLED&pass=***",
            ),
            (
                "redis://:hunter2@127.0.0.1:6379/0",
                "redis://:***@127.0.0.1:6379/0",
            ),
            (
                "redis://127.0.0.1/?auth=hunter2",
                "redis://127.0.0.1/?auth=***",
            ),
            (
                "redis://h/?token=hunter2&Secret=hunter2&API_KEY=hunter2",
                "redis://h/?token=***&Secret=***&API_KEY=***",
            ),
            (
                "redis+sentinel://default:hunter2@127.0.0.1:26379,127.0.0.1:26380/mymaster",
                "redis+sentinel://default:***@127.0.0.1:26379,127.0.0.1:26380/mymaster",
            ),
            (
                "redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/mymaster?password=hunter2",
                "redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/mymaster?password=***",
            ),
            (
                "redis+cluster://u:hunter2@127.0.0.1:7000,127.0.0.1:7001",
                "redis+cluster://u:***@127.0.0.1:7000,127.0.0.1:7001",
            ),
            // A password with unescaped '/' and '@' (base64, typed by hand).
            (
                "postgres://app:hun/ter@2@db/app",
                "postgres://app:***@db/app",
            ),
            (
                "postgres://app:hun?ter@2@db/app?application_name=a@b",
                "postgres://app:***@db/app?application_name=a@b",
            ),
            ("sqlite:file.db?key=hunter2", "sqlite:file.db?key=***"),
            (
                "postgres://u@h/d?sslpassword=hunter2&application_name=x",
                "postgres://u@h/d?sslpassword=***&application_name=x",
            ),
        ] {
            let got = redact_url(url);
            assert_eq!(got, shown, "{url}");
            assert!(!got.contains("hunter2") && !got.contains("ter@2"), "{got}");
        }
    }

    #[test]
    fn urls_without_credentials_are_unchanged() {
        for url in [
            "sqlite://satchel-demo.sqlite?mode=rwc",
            "sqlite::memory:",
            "memory:?max_sessions=10",
            "mysql://root@127.0.0.1:3306/test",
            "redis+cluster://127.0.0.1:17000,127.0.0.1:17001",
            "redis://127.0.0.1:6379/?protocol=resp3",
            "postgres://h/d?application_name=me@example",
            "cookie:",
            "not a url",
        ] {
            assert_eq!(redact_url(url), url);
        }
    }
}
