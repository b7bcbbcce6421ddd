//! Reading the session id from `Cookie` headers and writing `Set-Cookie`.
//!
//! Parsing is a byte scan for our one cookie name rather than a general cookie parser:
//! general parsers percent-decode values, which would make `%41…` an alternative spelling
//! of an id (SEC-4 wants exactly one canonical form), and they must allocate or validate
//! UTF-8 across every cookie of the request, while we only care about one. Writing uses the
//! `cookie` crate, which knows the attribute syntax.

use std::time::Duration;

use cookie::{Cookie, CookieBuilder};

use crate::config::{SameSite, SessionConfig};
use crate::id::SessionId;

/// What the request's cookies say about the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Incoming {
    /// No session cookie.
    Absent,
    /// A session cookie that cannot name a session; never looked up.
    Invalid(Invalid),
    /// A well-formed id (not yet known to exist).
    Id(SessionId),
}

/// Why a session cookie was ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Invalid {
    /// Not a canonical 43-character base64url id.
    Malformed,
    /// More than one cookie with the session name (cookie tossing): all of them are
    /// ignored, whatever their order, so an attacker's cookie never wins a race of order.
    Duplicate,
    /// The `Cookie` headers are larger than the configured limit.
    Oversized,
}

impl Invalid {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Invalid::Malformed => "malformed_cookie",
            Invalid::Duplicate => "duplicate_cookie",
            Invalid::Oversized => "oversized_cookie_header",
        }
    }
}

/// One of our cookies found in the request.
enum Ours<'h> {
    /// `name` (chunk 0) or, for chunked scans, `name.N` (chunk N): its value.
    Chunk(u8, &'h [u8]),
    /// `name` + the companion suffix: its value.
    Companion(&'h [u8]),
}

/// Scans the `Cookie` header values for our cookies and hands each to `found`, so both
/// parsers share one scan. `chunked` also recognises `name.1` … `name.9`.
///
/// memchr finds the `;` separators with SIMD; a pair is ours only if it starts with the
/// name, so other cookies' values are never scanned byte by byte.
fn scan<'a, I>(
    headers: I,
    config: &SessionConfig,
    chunked: bool,
    companion_suffix: Option<&str>,
    mut found: impl FnMut(Ours<'a>),
) -> Result<(), Invalid>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let name = config.cookie_name.as_bytes();
    let suffix = companion_suffix.map(str::as_bytes);
    let mut total = 0usize;
    for header in headers {
        total = total.saturating_add(header.len());
        if total > config.max_cookie_header_bytes {
            return Err(Invalid::Oversized);
        }
        let mut start = 0;
        let ends = memchr::memchr_iter(b';', header).chain(std::iter::once(header.len()));
        for end in ends {
            let pair = trim_start(&header[start..end]);
            start = end + 1;
            let Some(rest) = pair.strip_prefix(name) else {
                continue;
            };
            let value = |r: &'a [u8]| trim_start(r).strip_prefix(b"=").map(trim);
            if let Some(v) = suffix.and_then(|s| rest.strip_prefix(s)).and_then(value) {
                found(Ours::Companion(v));
                continue;
            }
            let (index, rest) = match rest {
                [b'.', d @ b'1'..=b'9', rest @ ..] if chunked => (d - b'0', rest),
                _ => (0, rest),
            };
            // No `=` right after: another cookie whose name merely starts with ours.
            if let Some(v) = value(rest) {
                found(Ours::Chunk(index, v));
            }
        }
    }
    Ok(())
}

/// Finds the session cookie in the request's `Cookie` header values; `decode` turns its
/// value (and the companion cookie's, for formats that have one) into an id (satchel's
/// own format, or an engine's [`crate::IdFormat`]).
pub(crate) fn parse<'a, I>(
    headers: I,
    config: &SessionConfig,
    companion_suffix: Option<&str>,
    decode: impl FnOnce(&[u8], Option<&[u8]>) -> Option<SessionId>,
) -> Incoming
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let mut found: Option<&[u8]> = None;
    let mut companion: Option<&[u8]> = None;
    let mut duplicate = false;
    let scanned = scan(headers, config, false, companion_suffix, |ours| {
        let slot = match ours {
            Ours::Chunk(_, v) => (&mut found, v),
            Ours::Companion(v) => (&mut companion, v),
        };
        duplicate |= slot.0.is_some();
        *slot.0 = Some(slot.1);
    });
    if let Err(why) = scanned {
        return Incoming::Invalid(why);
    }
    match found {
        None => Incoming::Absent,
        Some(_) if duplicate => Incoming::Invalid(Invalid::Duplicate),
        Some(value) => match decode(value, companion) {
            Some(id) => Incoming::Id(id),
            None => Incoming::Invalid(Invalid::Malformed),
        },
    }
}

fn trim_start(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    s
}

fn trim(s: &[u8]) -> &[u8] {
    let mut s = trim_start(s);
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

fn builder<'a>(config: &'a SessionConfig, value: String) -> CookieBuilder<'a> {
    builder_named(config, config.cookie_name.as_str(), value)
}

fn builder_named<'a>(
    config: &'a SessionConfig,
    name: impl Into<std::borrow::Cow<'a, str>>,
    value: String,
) -> CookieBuilder<'a> {
    let mut b = Cookie::build((name, value))
        .path(config.path.as_str())
        .secure(config.secure)
        .http_only(config.http_only)
        .same_site(match config.same_site {
            SameSite::Strict => cookie::SameSite::Strict,
            SameSite::Lax => cookie::SameSite::Lax,
            SameSite::None => cookie::SameSite::None,
        });
    if let Some(domain) = &config.domain {
        b = b.domain(domain.as_str());
    }
    b
}

/// Satchel's own cookie format: canonical base64url.
pub(crate) fn decode_native(value: &[u8]) -> Option<SessionId> {
    std::str::from_utf8(value).ok().and_then(SessionId::parse)
}

/// The `Set-Cookie` value carrying the encoded id `value`; `max_age` only for persistent
/// sessions.
pub(crate) fn set_cookie(
    config: &SessionConfig,
    value: String,
    max_age: Option<Duration>,
) -> String {
    set_cookie_named(config, &config.cookie_name, &value, max_age)
}

/// `Set-Cookie` for cookie `name` with the session cookie's attributes.
fn set_cookie_named(
    config: &SessionConfig,
    name: &str,
    value: &str,
    max_age: Option<Duration>,
) -> String {
    let mut out = String::with_capacity(name.len() + 1 + value.len() + attributes_len(config));
    out.push_str(name);
    out.push('=');
    out.push_str(value);
    push_attributes(&mut out, config, max_age);
    out
}

/// Room for what [`push_attributes`] appends (`Max-Age` included).
fn attributes_len(config: &SessionConfig) -> usize {
    // "; HttpOnly" "; SameSite=Strict" "; Secure" "; Path=" "; Domain=" "; Max-Age=" + digits
    10 + 17 + 8 + 7 + config.path.len() + config.domain.as_ref().map_or(0, |d| 9 + d.len()) + 30
}

/// Appends the session cookie's attributes to a `name=value` being built in `out`, byte
/// for byte as the `cookie` crate's `Display` writes them for the cookies [`builder_named`]
/// builds (the tests compare the two): formatting straight into one presized string saves
/// a `Cookie`, a copy of the value and the formatter's reallocations on every response.
fn push_attributes(out: &mut String, config: &SessionConfig, max_age: Option<Duration>) {
    use std::fmt::Write as _;
    if config.http_only {
        out.push_str("; HttpOnly");
    }
    out.push_str(match config.same_site {
        SameSite::Strict => "; SameSite=Strict",
        SameSite::Lax => "; SameSite=Lax",
        SameSite::None => "; SameSite=None",
    });
    // `secure` is always set explicitly, so the cookie crate adds `Secure` only for it.
    if config.secure {
        out.push_str("; Secure");
    }
    out.push_str("; Path=");
    out.push_str(&config.path);
    if let Some(domain) = &config.domain {
        out.push_str("; Domain=");
        // The cookie crate drops one leading dot.
        out.push_str(domain.strip_prefix('.').unwrap_or(domain));
    }
    if let Some(age) = max_age {
        let secs = i64::try_from(age.as_secs()).unwrap_or(i64::MAX);
        let _ = write!(out, "; Max-Age={secs}"); // writing to a String cannot fail
    }
}

/// The name of the companion cookie (`name` + `suffix`, e.g. `koa.sess.sig`).
fn companion_name(config: &SessionConfig, suffix: &str) -> String {
    format!("{}{suffix}", config.cookie_name)
}

/// `Set-Cookie` for the companion cookie, with the session cookie's attributes.
pub(crate) fn companion_cookie(
    config: &SessionConfig,
    suffix: &str,
    value: String,
    max_age: Option<Duration>,
) -> String {
    set_cookie_named(config, &companion_name(config, suffix), &value, max_age)
}

/// The removal of the companion cookie.
pub(crate) fn companion_removal(config: &SessionConfig, suffix: &str) -> String {
    removal_named(config, companion_name(config, suffix))
}

/// The `Set-Cookie` value that removes the session cookie: same name, path, domain and
/// flags (or the browser keeps it, SEC-11), empty value, `Max-Age=0`, a past `Expires`.
pub(crate) fn removal_cookie(config: &SessionConfig) -> String {
    let mut c = builder(config, String::new()).build();
    c.make_removal();
    c.to_string()
}

/// The most chunks a sealed session may span: chunk names end in one digit.
pub(crate) const MAX_CHUNKS: u8 = 9;

/// The longest value one chunk may carry: browsers drop a cookie whose name plus value
/// exceeds 4096 bytes (RFC 6265bis §5.6); the margin covers `=` and the chunk suffix.
pub(crate) fn chunk_capacity(config: &SessionConfig) -> usize {
    4096 - 8 - config.cookie_name.len()
}

/// The name of chunk `index`: the cookie name itself, then `name.1`, `name.2`, ….
pub(crate) fn chunk_name(config: &SessionConfig, index: u8) -> String {
    if index == 0 {
        config.cookie_name.clone()
    } else {
        format!("{}.{index}", config.cookie_name)
    }
}

/// A stateless engine's cookie value as the browser sent it: the chunks joined, and the
/// companion cookie (a foreign format's separate signature) if the sealer uses one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SealedIn {
    pub(crate) value: String,
    pub(crate) companion: Option<String>,
}

/// What a stateless engine finds in the request's cookies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IncomingSealed {
    /// No session cookie (and no stray chunk).
    Absent,
    /// Cookies that cannot be a sealed session; never opened. Carries how many chunk
    /// names were seen, so the response can clear them all.
    Invalid(Invalid, u8),
    /// The chunks joined in order (and the companion cookie), and their count.
    Value(SealedIn, u8),
}

/// Collects `name`, `name.1` … `name.{max-1}`. A duplicate of any chunk, a gap, a chunk
/// at or past `max_chunks` or a non-UTF-8 byte makes the whole set invalid: the sealer's
/// authentication would reject it anyway, this only spares it the work.
pub(crate) fn parse_sealed<'a, I>(
    headers: I,
    config: &SessionConfig,
    max_chunks: u8,
    companion_suffix: Option<&str>,
) -> IncomingSealed
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let mut chunks: [Option<&[u8]>; MAX_CHUNKS as usize] = [None; MAX_CHUNKS as usize];
    let mut seen = 0u8;
    let mut invalid = None;
    let mut companion: Option<&[u8]> = None;
    let scanned = scan(headers, config, true, companion_suffix, |ours| match ours {
        Ours::Companion(v) => {
            if companion.replace(v).is_some() {
                invalid = Some(Invalid::Duplicate);
            }
        }
        Ours::Chunk(index, v) => {
            seen = seen.max(index + 1);
            if index >= max_chunks {
                invalid.get_or_insert(Invalid::Malformed);
            } else if chunks[usize::from(index)].replace(v).is_some() {
                invalid = Some(Invalid::Duplicate);
            }
        }
    });
    if let Err(why) = scanned {
        return IncomingSealed::Invalid(why, max_chunks);
    }
    if seen == 0 {
        return IncomingSealed::Absent;
    }
    if let Some(why) = invalid {
        return IncomingSealed::Invalid(why, seen);
    }
    let chunks = &chunks[..usize::from(seen)];
    let mut joined = Vec::with_capacity(chunks.iter().flatten().map(|c| c.len()).sum());
    for chunk in chunks {
        match chunk {
            Some(value) if !value.is_empty() => joined.extend_from_slice(value),
            _ => return IncomingSealed::Invalid(Invalid::Malformed, seen), // a gap
        }
    }
    let companion = match companion.map(|c| String::from_utf8(c.to_vec())) {
        None => None,
        Some(Ok(c)) => Some(c),
        Some(Err(_)) => return IncomingSealed::Invalid(Invalid::Malformed, seen),
    };
    match String::from_utf8(joined) {
        Ok(value) => IncomingSealed::Value(SealedIn { value, companion }, seen),
        Err(_) => IncomingSealed::Invalid(Invalid::Malformed, seen),
    }
}

/// The `Set-Cookie` values carrying `sealed` split into chunks, then the companion cookie
/// (`(suffix, value)`) if any, then removals for chunks `count..chunks_in` the browser
/// still holds. `None` when more than `max_chunks` would be needed.
pub(crate) fn sealed_cookies(
    config: &SessionConfig,
    sealed: &str,
    max_age: Option<Duration>,
    max_chunks: u8,
    chunks_in: u8,
    companion: Option<(&str, String)>,
) -> Option<Vec<String>> {
    let capacity = chunk_capacity(config);
    let count = sealed.len().div_ceil(capacity).max(1);
    if count > usize::from(max_chunks) {
        return None;
    }
    let mut out = Vec::with_capacity(count.max(usize::from(chunks_in)));
    for (index, piece) in (0u8..).zip(sealed.as_bytes().chunks(capacity)) {
        // Sealed values are ASCII (the sealer's contract), so byte chunks are valid UTF-8;
        // a sealer breaking it gets a replacement character, never a panic.
        let piece = String::from_utf8_lossy(piece);
        out.push(set_cookie_named(
            config,
            &chunk_name(config, index),
            &piece,
            max_age,
        ));
    }
    if let Some((suffix, value)) = companion {
        out.push(companion_cookie(config, suffix, value, max_age));
    }
    push_chunk_removals(config, &mut out, count, chunks_in);
    Some(out)
}

/// `name=` with room for a sealed value of about `sealed_len` bytes and the attributes:
/// the start of the first `Set-Cookie` of a sealed session, which the sealer appends its
/// value to (see [`sealed_cookies_from`]).
pub(crate) fn sealed_cookie_start(config: &SessionConfig, sealed_len: usize) -> String {
    let name = &config.cookie_name;
    let mut out = String::with_capacity(name.len() + 1 + sealed_len + attributes_len(config));
    out.push_str(name);
    out.push('=');
    out
}

/// [`sealed_cookies`] (without a companion cookie) for `first`, a
/// [`sealed_cookie_start`] with the sealed value appended. A value that fits one cookie,
/// the usual case, becomes that cookie in place: no copy of the value, one allocation.
pub(crate) fn sealed_cookies_from(
    config: &SessionConfig,
    mut first: String,
    max_age: Option<Duration>,
    max_chunks: u8,
    chunks_in: u8,
) -> Option<Vec<String>> {
    let prefix = config.cookie_name.len() + 1;
    let sealed_len = first.len().saturating_sub(prefix);
    // Several chunks, none (an empty value) or none allowed: the general path.
    if sealed_len == 0 || sealed_len > chunk_capacity(config) || max_chunks == 0 {
        return sealed_cookies(
            config,
            first.get(prefix..).unwrap_or_default(),
            max_age,
            max_chunks,
            chunks_in,
            None,
        );
    }
    push_attributes(&mut first, config, max_age);
    let mut out = Vec::with_capacity(usize::from(chunks_in).max(1));
    out.push(first);
    push_chunk_removals(config, &mut out, 1, chunks_in);
    Some(out)
}

/// Removals for chunks `count..chunks_in`, which the browser holds but the new value
/// does not use.
fn push_chunk_removals(config: &SessionConfig, out: &mut Vec<String>, count: usize, chunks_in: u8) {
    for index in u8::try_from(count).unwrap_or(MAX_CHUNKS)..chunks_in {
        out.push(removal_named(config, chunk_name(config, index)));
    }
}

/// Removals for every chunk `0..chunks` (at least the first) and the companion cookie.
pub(crate) fn sealed_removals(
    config: &SessionConfig,
    chunks: u8,
    companion_suffix: Option<&str>,
) -> Vec<String> {
    (0..chunks.max(1))
        .map(|index| removal_named(config, chunk_name(config, index)))
        .chain(companion_suffix.map(|s| companion_removal(config, s)))
        .collect()
}

fn removal_named(config: &SessionConfig, name: String) -> String {
    let mut c = builder_named(config, name, String::new()).build();
    c.make_removal();
    c.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> SessionConfig {
        SessionConfig::default()
    }

    fn parse_one(header: &str) -> Incoming {
        parse([header.as_bytes()], &cfg(), None, |v, _| decode_native(v))
    }

    #[test]
    fn finds_the_id_among_other_cookies() {
        let id = SessionId::generate();
        let header = format!("a=1; id={} ;b=2", id.encode());
        assert_eq!(parse_one(&header), Incoming::Id(id.clone()));
        // Split across two Cookie headers too.
        let h2 = format!("id={}", id.encode());
        assert_eq!(
            parse([&b"x=1"[..], h2.as_bytes()], &cfg(), None, |v, _| {
                decode_native(v)
            }),
            Incoming::Id(id)
        );
    }

    #[test]
    fn rejects_bad_values_deterministically() {
        let a = SessionId::generate().encode();
        let b = SessionId::generate().encode();
        let dup = Incoming::Invalid(Invalid::Duplicate);
        assert_eq!(parse_one(&format!("id={a}; id={b}")), dup);
        assert_eq!(parse_one(&format!("id={b}; id={a}")), dup);
        assert_eq!(parse_one(&format!("id={a}; id={a}")), dup);
        let bad = Incoming::Invalid(Invalid::Malformed);
        assert_eq!(parse_one("id="), bad);
        assert_eq!(parse_one(&format!("id=\"{a}\"")), bad);
        assert_eq!(parse_one(&format!("id={}", a.replace('A', "%41"))), {
            if a.contains('A') {
                bad.clone()
            } else {
                Incoming::Id(SessionId::parse(&a).unwrap_or_else(SessionId::generate))
            }
        });
        assert_eq!(
            parse([&b"id=\xff\xfe"[..]], &cfg(), None, |v, _| decode_native(v)),
            bad
        );
        assert_eq!(parse_one("idx=1; xid=2"), Incoming::Absent);
        assert_eq!(parse_one(""), Incoming::Absent);
        let big = "x".repeat(20_000);
        assert_eq!(parse_one(&big), Incoming::Invalid(Invalid::Oversized));
    }

    #[test]
    fn set_cookie_has_the_secure_defaults() {
        let id = SessionId::generate();
        let c = set_cookie(&cfg(), id.encode(), None);
        assert!(c.starts_with(&format!("id={}", id.encode())));
        for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
            assert!(c.contains(attr), "{c} lacks {attr}");
        }
        assert!(!c.contains("Domain") && !c.contains("Max-Age") && !c.contains("Expires"));
        let p = set_cookie(&cfg(), id.encode(), Some(Duration::from_secs(60)));
        assert!(p.contains("Max-Age=60"));
    }

    /// What `set_cookie_named` wrote before it formatted by hand: the cookie crate.
    fn reference(
        config: &SessionConfig,
        name: &str,
        value: &str,
        max_age: Option<Duration>,
    ) -> String {
        let mut b = builder_named(config, name, value.to_owned());
        if let Some(age) = max_age {
            let secs = i64::try_from(age.as_secs()).unwrap_or(i64::MAX);
            b = b.max_age(cookie::time::Duration::seconds(secs));
        }
        b.build().to_string()
    }

    #[test]
    fn hand_formatted_set_cookie_matches_the_cookie_crate() {
        let b = SessionConfig::builder;
        let configs = [
            cfg(),
            b().same_site(SameSite::Strict).build().expect("valid"),
            b().same_site(SameSite::None).build().expect("valid"),
            b().http_only(false).path("/app/x").build().expect("valid"),
            b().domain("example.com").build().expect("valid"),
            b().domain(".example.com")
                .cookie_name("sess")
                .build()
                .expect("valid"),
            b().dangerous_insecure_cookies().build().expect("valid"),
            b().dangerous_insecure_cookies()
                .secure(false)
                .same_site(SameSite::Strict)
                .http_only(false)
                .build()
                .expect("valid"),
        ];
        let ages = [
            None,
            Some(Duration::ZERO),
            Some(Duration::from_millis(61_500)),
            Some(Duration::from_secs(u64::MAX)),
        ];
        for config in &configs {
            for age in ages {
                let value = "AQc666t6fJ4E6QLd-1GaCllMqX0d6C9JVCA0ZQYoyDtg";
                let name = &config.cookie_name;
                let want = reference(config, name, value, age);
                assert_eq!(set_cookie(config, value.to_owned(), age), want);
                assert_eq!(
                    set_cookie_named(config, "x.1", "", age),
                    reference(config, "x.1", "", age)
                );
                let cookies =
                    sealed_cookies_from(config, sealed_cookie_start(config, 0) + value, age, 3, 3)
                        .expect("fits");
                assert_eq!(cookies[0], want);
                assert_eq!(
                    cookies,
                    sealed_cookies(config, value, age, 3, 3, None).expect("fits")
                );
            }
        }
    }

    #[test]
    fn sealed_cookies_from_chunks_long_values_like_sealed_cookies() {
        let config = cfg();
        let long = "v".repeat(chunk_capacity(&config) * 2 + 5);
        for (value, max_chunks, chunks_in) in [
            (long.as_str(), 3, 0),
            (long.as_str(), 3, 5),
            (long.as_str(), 2, 1),
            ("", 1, 0),
            ("abc", 1, 4),
        ] {
            let from = sealed_cookies_from(
                &config,
                sealed_cookie_start(&config, value.len()) + value,
                None,
                max_chunks,
                chunks_in,
            );
            assert_eq!(
                from,
                sealed_cookies(&config, value, None, max_chunks, chunks_in, None),
                "{max_chunks} {chunks_in}"
            );
        }
    }

    #[test]
    fn removal_mirrors_attributes() {
        let config = SessionConfig::builder()
            .cookie_name("__Host-sid")
            .same_site(SameSite::Strict)
            .build()
            .expect("valid");
        let r = removal_cookie(&config);
        assert!(r.starts_with("__Host-sid=;"), "{r}");
        for attr in [
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
            "Path=/",
            "Max-Age=0",
            "Expires=",
        ] {
            assert!(r.contains(attr), "{r} lacks {attr}");
        }
    }
}
