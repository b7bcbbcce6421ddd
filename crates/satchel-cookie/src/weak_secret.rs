//! Recognises master secrets that are long enough but guessable (SEC-27): one byte
//! repeated, a short pattern repeated, a run like `abcdef…`, placeholders made of words
//! such as `password` or `changeme`, and secrets drawn from a tiny alphabet.
//!
//! These are cheap, conservative checks, not a strength meter: they refuse what no random
//! generator produces (so a secret from `openssl rand -base64 48`, `-hex 32` or
//! `/dev/urandom` always passes) and what people type as a placeholder.

/// What to do instead, for every error message about a weak or short secret.
pub const GENERATE_HINT: &str =
    "generate one with `openssl rand -base64 48` (or `head -c 48 /dev/urandom | base64`)";

/// The longest pattern whose repetition counts as a pattern rather than a secret.
const MAX_PERIOD: usize = 16;

/// Below this many bits of (empirical, per-byte) Shannon entropy, a secret uses too few
/// distinct bytes too unevenly. Random hex of 32 characters measures about 3.6 bits per
/// byte and practically never below 2.8; `aaaabbbb…` measures 1.
const MIN_BITS_PER_BYTE: f64 = 2.3;

/// Words people put in a secret while meaning to change it later (lower case). A secret
/// made only of these (and digits and punctuation) is refused.
const PLACEHOLDER_WORDS: &[&str] = &[
    "a",
    "abc",
    "admin",
    "bar",
    "baz",
    "cat",
    "change",
    "changeme",
    "cookie",
    "default",
    "dev",
    "development",
    "dummy",
    "example",
    "foo",
    "here",
    "hunter",
    "insecure",
    "is",
    "it",
    "key",
    "keyboard",
    "letmein",
    "me",
    "my",
    "not",
    "pass",
    "passw0rd",
    "password",
    "please",
    "prod",
    "production",
    "qwerty",
    "satchel",
    "secret",
    "session",
    "test",
    "the",
    "this",
    "very",
    "your",
];

/// Why `secret` is guessable, or `None` if these checks find nothing wrong.
pub fn weakness(secret: &[u8]) -> Option<&'static str> {
    if secret.is_empty() {
        return Some("it is empty");
    }
    if let Some(period) = (1..=MAX_PERIOD.min(secret.len() - 1)).find(|&p| repeats_with(secret, p))
    {
        return Some(if period == 1 {
            "it is one byte repeated"
        } else {
            "it is a short pattern repeated"
        });
    }
    if is_run(secret) {
        return Some("it is a run of consecutive or equally spaced bytes");
    }
    if only_placeholder_words(secret) {
        return Some("it is made of placeholder words such as `password`, `secret` or `changeme`");
    }
    if bits_per_byte(secret) < MIN_BITS_PER_BYTE {
        return Some("it uses too few distinct bytes");
    }
    None
}

/// Whether every byte equals the one `period` bytes before it.
fn repeats_with(secret: &[u8], period: usize) -> bool {
    secret
        .iter()
        .zip(&secret[period..])
        .all(|(earlier, later)| earlier == later)
}

/// Whether most steps between neighbouring bytes are the same step (`abcd…`, `0246…`).
fn is_run(secret: &[u8]) -> bool {
    let mut counts = [0usize; 256];
    for pair in secret.windows(2) {
        counts[usize::from(pair[1].wrapping_sub(pair[0]))] += 1;
    }
    let steps = secret.len() - 1;
    counts.iter().any(|&n| n * 2 > steps)
}

/// Whether `secret`, lower-cased, is only placeholder words, digits and punctuation.
fn only_placeholder_words(secret: &[u8]) -> bool {
    let letters: Vec<u8> = secret
        .iter()
        .filter(|b| b.is_ascii_alphabetic())
        .map(u8::to_ascii_lowercase)
        .collect();
    // Too few letters to be words (a few letters among hex digits split into `a`, `abc`…
    // by chance), or binary / non-ASCII: not typed placeholder text.
    if letters.len() < (secret.len() / 3).max(8)
        || secret.iter().any(|b| !b.is_ascii_graphic() && *b != b' ')
    {
        return false;
    }
    // reachable[i]: letters[..i] splits into placeholder words.
    let mut reachable = vec![false; letters.len() + 1];
    reachable[0] = true;
    for start in 0..letters.len() {
        if !reachable[start] {
            continue;
        }
        for word in PLACEHOLDER_WORDS {
            if letters[start..].starts_with(word.as_bytes()) {
                reachable[start + word.len()] = true;
            }
        }
    }
    reachable[letters.len()]
}

/// The empirical Shannon entropy of `secret`'s bytes, in bits per byte.
fn bits_per_byte(secret: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    for &b in secret {
        counts[usize::from(b)] += 1;
    }
    let len = f64::from(u32::try_from(secret.len()).unwrap_or(u32::MAX));
    counts
        .iter()
        .filter(|&&n| n > 0)
        .map(|&n| {
            let p = f64::from(n) / len;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_weak_secrets_of_issue_19_are_refused() {
        assert_eq!(weakness(&[b'a'; 32]), Some("it is one byte repeated"));
        assert_eq!(
            weakness(b"passwordpasswordpasswordpassword"),
            Some("it is a short pattern repeated")
        );
    }

    #[test]
    fn patterns_runs_placeholders_and_tiny_alphabets_are_refused() {
        for weak in [
            &[0u8; 32][..],
            b"abababababababababababababababab",
            b"keyboard catkeyboard catkeyboard cat",
            b"0123456789abcdef0123456789abcdef",
            b"abcdefghijklmnopqrstuvwxyz012345",
            b"02468:<>@BDFHJLNPRTVXZ\\^`bdfhjlnp",
            b"change-me-this-is-not-a-secret-key",
            b"MySecretPassword1234567890123456!",
            b"secret_key_here_please_change_it",
            b"aaaabbbbaaaabbbbaaaabbbbccccdddd",
            b"\x01\x02\x01\x01\x02\x02\x01\x02\x02\x01\x01\x01\x02\x01\x02\x02\x02\x01\x01\x02\x01\x02\x01\x01\x02\x02\x01\x02\x02\x01\x01\x02",
        ] {
            assert!(
                weakness(weak).is_some(),
                "{:?} was accepted",
                String::from_utf8_lossy(weak)
            );
        }
    }

    #[test]
    fn generated_secrets_pass() {
        for strong in [
            // openssl rand -base64 48
            &b"q3N1c0y4dWq0zZ8mJb5mF+X9vW1dQyQK3o2Xo4hC7yH2m1pY6nR0tE5sU8wA9bLk"[..],
            // openssl rand -hex 16 (the shortest accepted)
            b"9f86d081884c7d659a2feaa0c55ad015",
            // a passphrase that is not made of placeholder words
            b"an-example-secret-of-more-than-32-bytes!",
            // raw bytes
            &[
                0x8e, 0x1f, 0x44, 0xa0, 0x7b, 0x3c, 0xd9, 0x02, 0x55, 0xe7, 0x91, 0x6a, 0x0d, 0xb8,
                0x23, 0xfe, 0x4e, 0x70, 0xc1, 0x9a, 0x36, 0x8b, 0x15, 0xd2, 0x67, 0xaf, 0x09, 0xe3,
                0x5c, 0x28, 0xf4, 0xb1,
            ],
        ] {
            assert_eq!(
                weakness(strong),
                None,
                "{:?}",
                String::from_utf8_lossy(strong)
            );
        }
    }

    #[test]
    fn random_secrets_always_pass() {
        use rand::RngCore;
        let mut rng = rand::rng();
        for len in [32, 48, 64] {
            for _ in 0..2000 {
                let mut raw = vec![0u8; len];
                rng.fill_bytes(&mut raw);
                assert_eq!(weakness(&raw), None, "{raw:?}");
                let hex: String = raw[..16].iter().map(|b| format!("{b:02x}")).collect();
                assert_eq!(weakness(hex.as_bytes()), None, "{hex}");
            }
        }
    }
}
