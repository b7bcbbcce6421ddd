//! Sealed (stateless) session cookies → `Engine::begin`, one read, `Engine::finish`.
//!
//! The first input byte picks how the rest becomes `Cookie` headers, so the fuzzer spends
//! its time both far from and right next to a genuine sealed cookie:
//! - `0`: the rest, split on `\n` into header values (as `cookie_header` does);
//! - `1`: a genuine one-chunk cookie for the fixture session (sealed once per process
//!   with the fixture key), XORed with the rest: bit flips anywhere in the value;
//! - `2`: the genuine value with the rest spliced in at a position given by the next byte:
//!   truncation, extension and insertion;
//! - anything else: the genuine value cut into `id`, `id.1`, `id.2` chunks in an order
//!   and with omissions chosen by the rest.
//!
//! Checked, beyond "no panic": the session opens (reads `n = 7`) only when the chunks
//! joined give back exactly the genuine value; `finish` never reports an error and sends
//! no cookie other than removals.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use satchel::sealed::MemoryRevocations;
use satchel::{Engine, SessionConfig, Stateless, TestClock};
use satchel_cookie::Keyring;
use satchel_fuzz::{block_on, split_headers, NOW};

fn engine() -> Engine {
    let keyring = Keyring::new(1, b"q3N1c0y4dWq0zZ8mJb5mF+X9vW1dQyQK").expect("fixture key");
    Engine::stateless_with_clock(
        Stateless::new(keyring).revocations(MemoryRevocations::new()),
        SessionConfig::default(),
        TestClock::new(NOW),
    )
}

/// The genuine sealed value of a session holding `n = 7`.
fn genuine() -> &'static str {
    static VALUE: OnceLock<String> = OnceLock::new();
    VALUE.get_or_init(|| {
        let engine = engine();
        let session = engine.begin(None);
        session.insert("n", &7).expect("insert");
        let done = block_on(engine.finish(&session, 200));
        let set = done.set_cookie.expect("a new session sets a cookie");
        let pair = set.split(';').next().expect("name=value");
        pair.strip_prefix("id=").expect("cookie name").to_owned()
    })
}

fn headers(data: &[u8]) -> (Vec<Vec<u8>>, Candidate) {
    let value = genuine().as_bytes();
    let Some((&mode, rest)) = data.split_first() else {
        return (Vec::new(), Candidate::Known(None));
    };
    match mode {
        0 => (
            split_headers(rest).iter().map(|h| h.to_vec()).collect(),
            Candidate::Known(None),
        ),
        1 => {
            let mut v = value.to_vec();
            for (b, x) in v.iter_mut().zip(rest) {
                *b ^= x;
            }
            let mut h = b"id=".to_vec();
            h.extend_from_slice(&v);
            (vec![h], seen_by_parser(&v))
        }
        2 => {
            let (at, insert) = rest.split_first().map_or((0, &[][..]), |(a, r)| (*a, r));
            let at = usize::from(at) * value.len() / 256;
            let mut v = value[..at].to_vec();
            v.extend_from_slice(insert);
            let mut h = b"id=".to_vec();
            h.extend_from_slice(&v);
            (vec![h], seen_by_parser(&v))
        }
        _ => {
            let third = value.len() / 3;
            let parts = [
                &value[..third],
                &value[third..2 * third],
                &value[2 * third..],
            ];
            let names: [&[u8]; 3] = [b"id=", b"id.1=", b"id.2="];
            let mut h = Vec::new();
            let mut joined: [Option<&[u8]>; 3] = [None; 3];
            for &pick in rest.iter().take(4) {
                let (name, part) = (usize::from(pick % 3), usize::from((pick / 3) % 3));
                h.extend_from_slice(names[name]);
                h.extend_from_slice(parts[part]);
                h.extend_from_slice(b"; ");
                joined[name] = if joined[name].is_some() {
                    Some(b"dup")
                } else {
                    Some(parts[part])
                };
            }
            let v = joined.iter().try_fold(Vec::new(), |mut acc, p| {
                acc.extend_from_slice((*p)?);
                Some(acc)
            });
            (vec![h], Candidate::Known(v))
        }
    }
}

/// What the cookie parser reads from a header.
enum Candidate {
    /// No sealed value of ours is in it (mode 0), or this one (`None`: none it could join).
    Known(Option<Vec<u8>>),
    /// The header goes on after a `;` with text that could be another of our cookies (a
    /// chunk, a duplicate): which value the parser reads is not worked out here.
    Unknown,
}

/// The value the parser reads from `id=` + `v`: up to the first `;`, without the spaces
/// and tabs around it (as `satchel::cookie` reads a pair).
fn seen_by_parser(v: &[u8]) -> Candidate {
    let (first, rest) = match v.iter().position(|&b| b == b';') {
        Some(i) => (&v[..i], &v[i + 1..]),
        None => (v, &[][..]),
    };
    if rest.windows(2).any(|w| w == b"id") {
        return Candidate::Unknown;
    }
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let start = first.iter().position(|b| !blank(b)).unwrap_or(first.len());
    let end = first
        .iter()
        .rposition(|b| !blank(b))
        .map_or(start, |i| i + 1);
    Candidate::Known(Some(first[start..end].to_vec()))
}

fuzz_target!(|data: &[u8]| {
    let (headers, candidate) = headers(data);
    let engine = engine();
    let session = engine.begin(headers.iter().map(Vec::as_slice));
    let n = block_on(session.get::<i64>("n"));
    let done = block_on(engine.finish(&session, 200));
    let n = n.expect("a bad cookie is no session, never an error");
    assert!(done.error.is_none(), "finish failed: {:?}", done.error);
    for line in done.set_cookies() {
        assert!(line.contains("Max-Age=0"), "unexpected cookie set");
    }
    // Only a value the key sealed opens (n = 7); whether the parser read exactly the
    // genuine one is checked where the harness knows what it read.
    let Candidate::Known(candidate) = candidate else {
        assert!(n.is_none() || n == Some(7));
        return;
    };
    let is_genuine = candidate.as_deref() == Some(genuine().as_bytes());
    if n.is_some() {
        assert_eq!(n, Some(7));
        assert!(is_genuine, "a modified cookie opened");
    } else if is_genuine && headers.len() == 1 {
        // Mode 3 can repeat a chunk name; `joined` marks those as not genuine already.
        panic!("the genuine cookie did not open");
    }
});
