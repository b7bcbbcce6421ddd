//! The checks every [`Revocations`](crate::sealed::Revocations) store must pass, for store
//! crates' tests.
//!
//! ```
//! # async fn check() {
//! use satchel::sealed::MemoryRevocations;
//! satchel::revocations_conformance::run(&MemoryRevocations::new()).await;
//! # }
//! ```
//!
//! Every check uses fresh random session ids and owner names, so one store (one key prefix,
//! one table) can run them all, concurrently with other tests. Timestamps start from the
//! wall clock (remote stores set expiry times from them) and checks move time by passing
//! later `now` values: a store must compare `until` with the `now` it is given, not only
//! rely on its own expiry.

use std::time::Duration;

use crate::id::{SessionId, StoreKey};
use crate::sealed::Revocations;
use crate::time::Timestamp;

/// Runs every check against `rev`, panicking on the first failure.
pub async fn run<R: Revocations>(rev: &R) {
    session_entries_expire_at_until(rev).await;
    session_entries_never_shorten(rev).await;
    owner_cut_off_includes_its_own_millisecond(rev).await;
    owner_cut_off_never_lowers_and_never_shortens(rev).await;
    owner_entries_expire_at_until(rev).await;
    concurrent_owner_cut_offs_keep_the_latest(rev).await;
    awkward_owner_names_are_kept_apart(rev).await;
}

fn base() -> Timestamp {
    Timestamp::now()
}

fn at(base: Timestamp, secs: u64) -> Timestamp {
    base.saturating_add(Duration::from_secs(secs))
}

fn fresh_key() -> StoreKey {
    SessionId::generate().store_key()
}

fn fresh_owner(tag: &str) -> String {
    format!("{tag}-{}", SessionId::generate().encode())
}

/// A deny-listed session is revoked until `until` and not after; others are untouched.
pub async fn session_entries_expire_at_until<R: Revocations>(rev: &R) {
    let t0 = base();
    let (key, other) = (fresh_key(), fresh_key());
    assert!(
        !rev.is_revoked(&key, None, t0, t0).await.expect("lookup"),
        "nothing revoked yet"
    );
    rev.revoke_session(&key, at(t0, 60), t0)
        .await
        .expect("revoke");
    assert!(rev
        .is_revoked(&key, None, t0, at(t0, 1))
        .await
        .expect("lookup"));
    assert!(rev
        .is_revoked(&key, Some("someone"), at(t0, 30), at(t0, 59))
        .await
        .expect("lookup"));
    assert!(
        !rev.is_revoked(&key, None, t0, at(t0, 60))
            .await
            .expect("lookup"),
        "an entry is dead at its `until`"
    );
    assert!(!rev
        .is_revoked(&other, None, t0, at(t0, 1))
        .await
        .expect("lookup"));
}

/// Revoking a session again with an earlier `until` keeps the later one.
pub async fn session_entries_never_shorten<R: Revocations>(rev: &R) {
    let t0 = base();
    let key = fresh_key();
    rev.revoke_session(&key, at(t0, 120), t0)
        .await
        .expect("revoke");
    rev.revoke_session(&key, at(t0, 10), t0)
        .await
        .expect("revoke");
    assert!(
        rev.is_revoked(&key, None, t0, at(t0, 60))
            .await
            .expect("lookup"),
        "the earlier `until` did not shorten the entry"
    );
}

/// Cookies of the owner sealed at or before the cut-off are revoked; later ones, other
/// owners and owner-less cookies are not.
pub async fn owner_cut_off_includes_its_own_millisecond<R: Revocations>(rev: &R) {
    let t0 = base();
    let owner = fresh_owner("cut");
    let key = fresh_key();
    let nb = at(t0, 5);
    rev.revoke_owner(&owner, nb, at(t0, 600))
        .await
        .expect("revoke");
    let after = Timestamp::from_millis(nb.as_millis() + 1);
    let now = at(t0, 6);
    assert!(rev
        .is_revoked(&key, Some(&owner), t0, now)
        .await
        .expect("lookup"));
    assert!(
        rev.is_revoked(&key, Some(&owner), nb, now)
            .await
            .expect("lookup"),
        "sealed in the cut-off's own millisecond"
    );
    assert!(!rev
        .is_revoked(&key, Some(&owner), after, now)
        .await
        .expect("lookup"));
    assert!(!rev
        .is_revoked(&key, Some(&fresh_owner("other")), t0, now)
        .await
        .expect("lookup"));
    assert!(!rev.is_revoked(&key, None, t0, now).await.expect("lookup"));
}

/// A later call with an earlier cut-off or an earlier `until` lowers neither.
pub async fn owner_cut_off_never_lowers_and_never_shortens<R: Revocations>(rev: &R) {
    let t0 = base();
    let owner = fresh_owner("lower");
    let key = fresh_key();
    rev.revoke_owner(&owner, at(t0, 20), at(t0, 900))
        .await
        .expect("revoke");
    rev.revoke_owner(&owner, at(t0, 10), at(t0, 100))
        .await
        .expect("revoke");
    let now = at(t0, 500);
    assert!(
        rev.is_revoked(&key, Some(&owner), at(t0, 15), now)
            .await
            .expect("lookup"),
        "the cut-off stayed at 20 s and the entry past 100 s"
    );
    assert!(!rev
        .is_revoked(&key, Some(&owner), at(t0, 21), now)
        .await
        .expect("lookup"));
}

/// An owner's cut-off stops applying at its `until`.
pub async fn owner_entries_expire_at_until<R: Revocations>(rev: &R) {
    let t0 = base();
    let owner = fresh_owner("expire");
    let key = fresh_key();
    rev.revoke_owner(&owner, t0, at(t0, 60))
        .await
        .expect("revoke");
    assert!(rev
        .is_revoked(&key, Some(&owner), t0, at(t0, 59))
        .await
        .expect("lookup"));
    assert!(!rev
        .is_revoked(&key, Some(&owner), t0, at(t0, 60))
        .await
        .expect("lookup"));
}

/// Concurrent cut-offs for one owner (several devices revoking at once): the latest wins,
/// whatever order they land in.
pub async fn concurrent_owner_cut_offs_keep_the_latest<R: Revocations>(rev: &R) {
    let t0 = base();
    let owner = fresh_owner("race");
    let key = fresh_key();
    let calls = (1..=16u64).rev().map(|i| {
        let owner = owner.as_str();
        async move {
            rev.revoke_owner(owner, at(t0, i), at(t0, 600))
                .await
                .expect("revoke");
        }
    });
    join_all(calls).await;
    let now = at(t0, 100);
    assert!(rev
        .is_revoked(&key, Some(&owner), at(t0, 16), now)
        .await
        .expect("lookup"));
    assert!(!rev
        .is_revoked(&key, Some(&owner), at(t0, 17), now)
        .await
        .expect("lookup"));
}

/// Owner names with separators, quotes, non-ASCII text and a kilobyte of length are
/// stored apart from one another.
pub async fn awkward_owner_names_are_kept_apart<R: Revocations>(rev: &R) {
    let t0 = base();
    let stem = fresh_owner("awk");
    let names = [
        format!("{stem}:a"),
        format!("{stem}:a:"),
        format!("{stem} \"quoted\" 'x' \\ {{}}"),
        format!("{stem}-ünïcødé-日本"),
        format!("{stem}{}", "x".repeat(1024)),
    ];
    let key = fresh_key();
    rev.revoke_owner(&names[0], at(t0, 10), at(t0, 600))
        .await
        .expect("revoke");
    let now = at(t0, 20);
    assert!(rev
        .is_revoked(&key, Some(&names[0]), at(t0, 5), now)
        .await
        .expect("lookup"));
    for name in &names[1..] {
        assert!(
            !rev.is_revoked(&key, Some(name), at(t0, 5), now)
                .await
                .expect("lookup"),
            "a different owner name is a different owner"
        );
        rev.revoke_owner(name, at(t0, 10), at(t0, 600))
            .await
            .expect("revoke");
        assert!(rev
            .is_revoked(&key, Some(name), at(t0, 5), now)
            .await
            .expect("lookup"));
    }
}

/// Polls the futures together (a tiny `join_all`, so the core crate needs no futures
/// dependency).
async fn join_all<F: std::future::Future<Output = ()>>(futures: impl Iterator<Item = F>) {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    std::future::poll_fn(|cx| {
        set.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if set.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
}
