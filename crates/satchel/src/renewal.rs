//! The forward record of a periodic id renewal (SEC-49, `docs/id-renewal.md`): the bytes a
//! store keeps under the old id's key for the grace window, from which only a holder of
//! the old id learns the new one. Stores never hold ids (SEC-32): they see the old id's
//! store key (its SHA-256) and these bytes, neither of which reveals the new id.
//!
//! ```text
//! pad     = SHA-256("satchel-renewal-forward" ‖ old_id)
//! forward = (new_id XOR pad) ‖ SHA-256(new_id)[..8]
//! ```

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::id::SessionId;

/// The reserved data key holding when the session's current id was issued (ms since the
/// epoch, a JSON number), like `_auth` and `_flash`. A record without it counts from its
/// creation time.
pub const ID_ISSUED_AT_KEY: &str = "_id_at";

/// Domain separation from the store key (a plain SHA-256 of the id).
const PAD_DOMAIN: &[u8] = b"satchel-renewal-forward";

/// How many bytes of `SHA-256(new_id)` check a forward on the way back.
const CHECK_LEN: usize = 8;

/// The length of a forward record's bytes.
pub(crate) const FORWARD_LEN: usize = 32 + CHECK_LEN;

fn pad(old: &SessionId) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(PAD_DOMAIN);
    h.update(old.as_bytes());
    h.finalize().into()
}

fn check(new: &[u8; 32]) -> [u8; CHECK_LEN] {
    let digest = Sha256::digest(new);
    let mut out = [0u8; CHECK_LEN];
    out.copy_from_slice(&digest[..CHECK_LEN]);
    out
}

/// The forward bytes that lead from `old` to `new`.
pub(crate) fn seal(old: &SessionId, new: &SessionId) -> Vec<u8> {
    let pad = pad(old);
    let mut out = Vec::with_capacity(FORWARD_LEN);
    out.extend(new.as_bytes().iter().zip(pad.iter()).map(|(n, p)| n ^ p));
    out.extend_from_slice(&check(new.as_bytes()));
    out
}

/// The new id a forward found under `old`'s key leads to; `None` if the bytes are not a
/// forward made from `old` (wrong length, tampered or garbled: the check value differs).
pub(crate) fn open(old: &SessionId, forward: &[u8]) -> Option<SessionId> {
    if forward.len() != FORWARD_LEN {
        return None;
    }
    let (masked, expected) = forward.split_at(32);
    let pad = pad(old);
    let mut new = [0u8; 32];
    for (i, b) in new.iter_mut().enumerate() {
        *b = masked[i] ^ pad[i];
    }
    if bool::from(check(&new).ct_eq(expected)) {
        Some(SessionId::from_raw(new))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forward_opens_only_with_the_old_id_and_only_untampered() {
        let (old, new, other) = (
            SessionId::generate(),
            SessionId::generate(),
            SessionId::generate(),
        );
        let sealed = seal(&old, &new);
        assert_eq!(sealed.len(), FORWARD_LEN);
        assert_eq!(
            open(&old, &sealed).map(|id| *id.as_bytes()),
            Some(*new.as_bytes())
        );
        assert!(open(&other, &sealed).is_none(), "another id learns nothing");
        // No raw id at rest: neither id's bytes appear in the forward.
        assert!(!sealed
            .windows(32)
            .any(|w| w == new.as_bytes() || w == old.as_bytes()));
        for i in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 1;
            assert!(open(&old, &tampered).is_none(), "byte {i} flipped");
        }
        assert!(open(&old, &sealed[..FORWARD_LEN - 1]).is_none());
        assert!(open(&old, b"").is_none());
    }
}
