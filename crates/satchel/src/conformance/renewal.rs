//! The renewal contract (SEC-49, `docs/id-renewal.md`): [`SessionStore::renew`] moves the
//! record and leaves a forward record at the old key in one atomic step; the forward is
//! readable through [`SessionStore::load_forward`] until its grace deadline and is never a
//! session. Run exactly for stores that claim [`crate::Capabilities::renewal`].

use std::time::Duration;

use super::{claimed, get, key, must_load, record, set, Harness};
use crate::record::Patch;
use crate::store::{SessionStore, WriteOutcome};
use crate::time::Timestamp;

const GRACE: Duration = Duration::from_secs(30);

/// Opaque forward bytes (the engine's are 40; a store must not care).
const FORWARD: &[u8] = b"\x00forward\xffbytes\x01\x02\x03 not an id, any bytes at all\x00";

/// After `renew`, `load(old)` is `None`, `load_forward(old)` gives the bytes until the
/// grace deadline and `None` at it; the new key holds the patched record.
pub async fn renew_leaves_a_forward_until_the_grace_deadline<H: Harness>(h: &H) {
    let store = h.store().await;
    if !claimed(store.capabilities().renewal, "renewal") {
        return;
    }
    let now = Timestamp::now();
    let (old, new) = (key(), key());
    store
        .create(&old, &record(now, &[("cart", "[1]")]), now)
        .await
        .expect("create");
    assert_eq!(
        store.load_forward(&old, now).await.expect("load_forward"),
        None,
        "a live session is no forward"
    );
    let until = now.saturating_add(GRACE);
    let outcome = store
        .renew(
            &old,
            &new,
            &set(&[("renewed", "true")]),
            FORWARD,
            until,
            now,
        )
        .await
        .expect("renew");
    assert!(
        matches!(outcome, WriteOutcome::Applied(_)),
        "renew: {outcome:?}"
    );
    let r = must_load(&store, &new, now).await;
    assert_eq!(get(&r, "cart"), Some("[1]"));
    assert_eq!(get(&r, "renewed"), Some("true"));
    assert_eq!(r.meta.created_at, now, "renewal keeps the creation time");
    for at in [now, Timestamp::from_millis(until.as_millis() - 1)] {
        assert!(
            store.load(&old, at).await.expect("load").is_none(),
            "the old key holds no session"
        );
        assert_eq!(
            store
                .load_forward(&old, at)
                .await
                .expect("load_forward")
                .as_deref(),
            Some(FORWARD),
            "the forward lives until its deadline"
        );
    }
    assert_eq!(
        store.load_forward(&old, until).await.expect("load_forward"),
        None,
        "the forward is dead at its deadline"
    );
    assert!(store.load(&old, until).await.expect("load").is_none());
    assert!(
        store.load(&new, until).await.expect("load").is_some(),
        "the renewed session outlives the forward"
    );
    assert_eq!(
        store.load_forward(&key(), now).await.expect("load_forward"),
        None,
        "an unknown key has no forward"
    );
}

/// A forward is never a session: `apply`, `touch`, `rotate` and `renew` on the old key are
/// `Gone`; `create` there is `KeyTaken` while it lives; `sessions_of` does not list it;
/// `purge_expired` removes it after the window and `delete` removes it at once.
pub async fn a_forward_is_never_a_session<H: Harness>(h: &H) {
    let store = h.store().await;
    if !claimed(store.capabilities().renewal, "renewal") {
        return;
    }
    let caps = store.capabilities();
    let now = Timestamp::now();
    let until = now.saturating_add(GRACE);
    let owner = format!("renewal-{}", key().short());
    let (old, new) = (key(), key());
    let mut first = record(now, &[("a", "1")]);
    first.meta.owner = Some(owner.clone());
    store.create(&old, &first, now).await.expect("create");
    let outcome = store
        .renew(&old, &new, &Patch::default(), FORWARD, until, now)
        .await
        .expect("renew");
    assert!(matches!(outcome, WriteOutcome::Applied(_)), "{outcome:?}");

    let outcome = store
        .apply(&old, &set(&[("b", "2")]), now)
        .await
        .expect("apply");
    assert_eq!(outcome, WriteOutcome::Gone, "apply on a forward");
    assert_eq!(
        store.touch(&old, now).await.expect("touch"),
        None,
        "touch on a forward"
    );
    let outcome = store
        .rotate(&old, &key(), &Patch::default(), now)
        .await
        .expect("rotate");
    assert_eq!(outcome, WriteOutcome::Gone, "rotate of a forward");
    let outcome = store
        .renew(&old, &key(), &Patch::default(), FORWARD, until, now)
        .await
        .expect("renew");
    assert_eq!(outcome, WriteOutcome::Gone, "a forward is never renewed");
    let outcome = store
        .create(&old, &record(now, &[("c", "3")]), now)
        .await
        .expect("create");
    assert_eq!(
        outcome,
        WriteOutcome::KeyTaken,
        "create over a live forward"
    );
    assert_eq!(
        store
            .load_forward(&old, now)
            .await
            .expect("load_forward")
            .as_deref(),
        Some(FORWARD),
        "none of that touched the forward"
    );
    assert!(store.load(&old, now).await.expect("load").is_none());
    let r = must_load(&store, &new, now).await;
    assert_eq!((get(&r, "a"), get(&r, "b")), (Some("1"), None));

    if caps.owner_index {
        let listed: Vec<_> = store
            .sessions_of(&owner, now)
            .await
            .expect("sessions_of")
            .into_iter()
            .map(|s| s.key)
            .collect();
        assert_eq!(listed, vec![new], "only the renewed session is listed");
    }
    if caps.purge {
        // Purge at the deadline: the forward goes, the session (expiring much later) stays.
        let purged = store.purge_expired(until, 1000).await.expect("purge");
        assert!(
            purged >= 1,
            "purge removes the forward once its window is over"
        );
        assert_eq!(
            store.load_forward(&old, now).await.expect("load_forward"),
            None,
            "purged, not merely expired"
        );
        assert!(store.load(&new, until).await.expect("load").is_some());
    }

    let (old2, new2) = (key(), key());
    store
        .create(&old2, &record(now, &[("a", "1")]), now)
        .await
        .expect("create");
    store
        .renew(&old2, &new2, &Patch::default(), FORWARD, until, now)
        .await
        .expect("renew");
    store.delete(&old2).await.expect("delete");
    assert_eq!(
        store.load_forward(&old2, now).await.expect("load_forward"),
        None,
        "delete removes a forward"
    );
    assert!(store.load(&new2, now).await.expect("load").is_some());
}

/// Concurrent renewals of one key: exactly one is `Applied`, the others `Gone`; exactly
/// one new key is live and the forward is the winner's.
pub async fn concurrent_renewals_move_once<H: Harness>(h: &H) {
    let store = h.store().await;
    if !claimed(store.capabilities().renewal, "renewal") {
        return;
    }
    for round in 0..8 {
        let now = Timestamp::now();
        let until = now.saturating_add(GRACE);
        let old = key();
        store
            .create(&old, &record(now, &[("base", "0")]), now)
            .await
            .expect("create");
        let news: Vec<_> = (0..4).map(|_| key()).collect();
        let mut tasks = Vec::new();
        for (i, new) in news.iter().enumerate() {
            let (store, old, new) = (store.clone(), old, *new);
            tasks.push(tokio::spawn(async move {
                let forward = [FORWARD, &[u8::try_from(i).unwrap_or(0)]].concat();
                store
                    .renew(
                        &old,
                        &new,
                        &set(&[("by", &i.to_string())]),
                        &forward,
                        until,
                        now,
                    )
                    .await
                    .expect("renew")
            }));
        }
        let mut winners = Vec::new();
        for (i, task) in tasks.into_iter().enumerate() {
            match task.await.expect("task") {
                WriteOutcome::Applied(_) => winners.push(i),
                WriteOutcome::Gone => {}
                other => panic!("round {round}: unexpected renewal outcome {other:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: exactly one renewal wins");
        let w = winners[0];
        for (i, new) in news.iter().enumerate() {
            let live = store.load(new, now).await.expect("load").is_some();
            assert_eq!(live, i == w, "round {round}: only the winner's key is live");
        }
        let r = must_load(&store, &news[w], now).await;
        assert_eq!(get(&r, "by"), Some(w.to_string().as_str()));
        let forward = store.load_forward(&old, now).await.expect("load_forward");
        assert_eq!(
            forward,
            Some([FORWARD, &[u8::try_from(w).unwrap_or(0)]].concat()),
            "round {round}: the forward is the winner's"
        );
    }
}

/// `revoke_owner` racing a chain of renewals of one of the owner's sessions: once the
/// revocation has returned and the renewer has stopped (its next renewal found the session
/// `Gone`), no key of the chain is live and the owner lists nothing. A revocation that reads
/// the owner's sessions once and deletes them after would miss a session renewed in
/// between (it moved to a key the revocation never saw), and the old id's forward would
/// still lead to it: "log out everywhere" undone by an open tab.
pub async fn revoke_owner_catches_renewals_in_flight<H: Harness>(h: &H) {
    let store = h.store().await;
    if !claimed(store.capabilities().renewal, "renewal") {
        return;
    }
    for round in 0..16 {
        let now = Timestamp::now();
        let owner = format!("racing-owner-{round}");
        let first = key();
        let mut r = record(now, &[("n", "0")]);
        r.meta.owner = Some(owner.clone());
        store.create(&first, &r, now).await.expect("create");
        let renewer = store.clone();
        let task = tokio::spawn(async move {
            let mut chain = vec![first];
            for _ in 0..64 {
                let (current, next) = (chain[chain.len() - 1], key());
                let until = now.saturating_add(GRACE);
                match renewer
                    .renew(&current, &next, &Patch::default(), FORWARD, until, now)
                    .await
                    .expect("renew")
                {
                    WriteOutcome::Applied(_) => chain.push(next),
                    WriteOutcome::Gone => break,
                    other => panic!("round {round}: unexpected renewal outcome {other:?}"),
                }
                tokio::task::yield_now().await;
            }
            chain
        });
        // Let the renewer start, on another worker thread.
        tokio::task::yield_now().await;
        store
            .revoke_owner(&owner, None)
            .await
            .expect("revoke_owner");
        let chain = task.await.expect("renewer");
        for (i, k) in chain.iter().enumerate() {
            assert!(
                store.load(k, now).await.expect("load").is_none(),
                "round {round}: renewal {i} of {} survived revoke_owner",
                chain.len() - 1
            );
        }
        let listed = store.sessions_of(&owner, now).await.expect("sessions_of");
        assert!(listed.is_empty(), "round {round}: still listed: {listed:?}");
    }
}
