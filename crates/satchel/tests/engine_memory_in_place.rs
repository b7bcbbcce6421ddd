//! The engine saves a loaded session on the built-in MemoryStore in place (its pending
//! changes applied without building a `Patch`); every other store gets a `Patch`. This
//! differential test runs the same random requests against both paths, a plain
//! `MemoryStore` and the same store behind a wrapper, and requires identical answers:
//! values read, errors (conflicts, size limit, ended sessions), cookies and headers.

mod common;

use std::time::Duration;

use common::{cookie_value, CountingStore};
use proptest::prelude::*;
use satchel::{
    Engine, Expiry, Finish, MemoryStore, Session, SessionConfig, SessionErrorKind, TestClock,
};

const KEYS: [&str; 3] = ["a", "b", "c"];

/// One thing a handler does.
#[derive(Debug, Clone)]
enum Op {
    Get(usize),
    Insert(usize, String),
    Remove(usize),
    Clear,
    Persistent,
    BrowserSession,
    Logout,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..KEYS.len()).prop_map(Op::Get),
        4 => (0..KEYS.len(), "[a-z]{0,24}").prop_map(|(k, v)| Op::Insert(k, v)),
        2 => (0..KEYS.len()).prop_map(Op::Remove),
        1 => Just(Op::Clear),
        1 => Just(Op::Persistent),
        1 => Just(Op::BrowserSession),
        1 => Just(Op::Logout),
    ]
}

/// A request: its operations, split around a second request that runs to completion
/// in between (so the first one's reads may be stale when it writes).
#[derive(Debug, Clone)]
struct Step {
    before: Vec<Op>,
    interleaved: Option<Vec<Op>>,
    after: Vec<Op>,
    /// Whether the request fails (5xx), which drops its changes.
    fails: bool,
    /// Time passing before the request, in seconds.
    wait: u64,
}

fn step() -> impl Strategy<Value = Step> {
    (
        prop::collection::vec(op(), 0..4),
        prop::option::weighted(0.4, prop::collection::vec(op(), 1..4)),
        prop::collection::vec(op(), 0..4),
        prop::bool::weighted(0.1),
        prop_oneof![Just(0_u64), Just(200), Just(2000)],
    )
        .prop_map(|(before, interleaved, after, fails, wait)| Step {
            before,
            interleaved,
            after,
            fails,
            wait,
        })
}

/// Everything observable about a request, with the session id left out (ids are random).
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    reads: Vec<Result<Option<String>, SessionErrorKind>>,
    error: Option<SessionErrorKind>,
    set_cookie: Option<String>,
    no_store: bool,
    vary_cookie: bool,
}

struct Side {
    engine: Engine,
    clock: TestClock,
    cookie: Option<String>,
}

impl Side {
    fn new(in_place: bool) -> Self {
        let clock = TestClock::default();
        let config = SessionConfig::builder()
            .idle_timeout(Duration::from_secs(1800))
            .absolute_timeout(Duration::from_secs(4 * 3600))
            .max_data_bytes(48)
            .build()
            .expect("config");
        let engine = if in_place {
            Engine::with_clock(MemoryStore::new(), config, clock.clone())
        } else {
            Engine::with_clock(
                CountingStore::new(MemoryStore::new()),
                config,
                clock.clone(),
            )
        };
        Side {
            engine,
            clock,
            cookie: None,
        }
    }

    fn begin(&self) -> Session {
        let header = self.cookie.as_ref().map(|c| format!("id={c}"));
        self.engine.begin(header.as_deref().map(str::as_bytes))
    }

    async fn finish(
        &mut self,
        session: &Session,
        status: u16,
        reads: Vec<Result<Option<String>, SessionErrorKind>>,
    ) -> Seen {
        let done: Finish = self.engine.finish(session, status).await;
        if let Some(set) = &done.set_cookie {
            if set.contains("Max-Age=0") {
                self.cookie = None;
            } else {
                self.cookie = Some(cookie_value(set).to_owned());
            }
        }
        // The id differs between the two sides: keep the attributes only, and of a
        // removal's `Expires` (a fixed date in the past, formatted from the wall clock) its
        // name only.
        let set_cookie = done.set_cookie.as_deref().map(|s| {
            s.split(';')
                .skip(1)
                .map(|attr| match attr.split_once('=') {
                    Some((name, _)) if name.trim() == "Expires" => name,
                    _ => attr,
                })
                .collect::<Vec<_>>()
                .join(";")
        });
        Seen {
            reads,
            error: done.error.map(|e| e.kind()),
            set_cookie,
            no_store: done.no_store,
            vary_cookie: done.vary_cookie,
        }
    }
}

async fn run(
    session: &Session,
    ops: &[Op],
    reads: &mut Vec<Result<Option<String>, SessionErrorKind>>,
) {
    for op in ops {
        match op {
            Op::Get(k) => reads.push(session.get::<String>(KEYS[*k]).await.map_err(|e| e.kind())),
            Op::Insert(k, v) => reads.push(
                session
                    .insert(KEYS[*k], v)
                    .map(|()| None)
                    .map_err(|e| e.kind()),
            ),
            Op::Remove(k) => reads.push(
                session
                    .remove(KEYS[*k])
                    .map(|()| None)
                    .map_err(|e| e.kind()),
            ),
            Op::Clear => reads.push(session.clear().map(|()| None).map_err(|e| e.kind())),
            Op::Persistent => reads.push(
                session
                    .set_expiry(Expiry::Persistent {
                        idle: Duration::from_secs(3600),
                        absolute: Duration::from_secs(24 * 3600),
                    })
                    .map(|()| None)
                    .map_err(|e| e.kind()),
            ),
            Op::BrowserSession => reads.push(
                session
                    .set_expiry(Expiry::BrowserSession)
                    .map(|()| None)
                    .map_err(|e| e.kind()),
            ),
            Op::Logout => session.logout(),
        }
    }
}

/// Runs `steps` on one side; returns what each request saw.
async fn play(side: &mut Side, steps: &[Step]) -> Vec<Seen> {
    let mut seen = Vec::new();
    // A session to start from.
    let s = side.begin();
    s.insert("a", "seed").expect("insert");
    seen.push(side.finish(&s, 200, Vec::new()).await);
    for step in steps {
        side.clock.advance(Duration::from_secs(step.wait));
        let session = side.begin();
        let mut reads = Vec::new();
        run(&session, &step.before, &mut reads).await;
        if let Some(ops) = &step.interleaved {
            let other = side.begin();
            let mut other_reads = Vec::new();
            run(&other, ops, &mut other_reads).await;
            seen.push(side.finish(&other, 200, other_reads).await);
        }
        run(&session, &step.after, &mut reads).await;
        let status = if step.fails { 500 } else { 200 };
        seen.push(side.finish(&session, status, reads).await);
    }
    // What the session holds at the end.
    let last = side.begin();
    let mut reads = Vec::new();
    run(&last, &[Op::Get(0), Op::Get(1), Op::Get(2)], &mut reads).await;
    seen.push(side.finish(&last, 200, reads).await);
    seen
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn in_place_saves_answer_exactly_as_patches_do(steps in prop::collection::vec(step(), 1..8)) {
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let (in_place, patched) = rt.block_on(async {
            let in_place = play(&mut Side::new(true), &steps).await;
            let patched = play(&mut Side::new(false), &steps).await;
            (in_place, patched)
        });
        prop_assert_eq!(in_place, patched);
    }
}

/// The differential test above is only worth something if both paths meet the cases
/// that differ most: a conflict and the size limit, each seen through the in-place path.
#[tokio::test]
async fn in_place_path_reports_conflicts_and_the_size_limit() {
    let mut side = Side::new(true);
    let steps = [
        Step {
            before: vec![Op::Get(0)],
            interleaved: Some(vec![Op::Insert(0, "theirs".into())]),
            after: vec![Op::Insert(0, "mine".into())],
            fails: false,
            wait: 0,
        },
        Step {
            before: vec![Op::Get(1)],
            interleaved: None,
            after: vec![Op::Insert(1, "x".repeat(24)), Op::Insert(2, "y".repeat(24))],
            fails: false,
            wait: 0,
        },
    ];
    let seen = play(&mut side, &steps).await;
    assert_eq!(seen[2].error, Some(SessionErrorKind::Conflict));
    assert_eq!(seen[3].error, Some(SessionErrorKind::TooLarge));
    assert_eq!(
        seen[4].reads,
        vec![Ok(Some("theirs".into())), Ok(None), Ok(None)]
    );
}

/// Under `CorruptRecords::FailClosed`, a record the store cannot decode fails the request
/// closed through the in-place load too: a store error, no cookie, and the record is left
/// as it is. (The default, going on without it, is in engine_corrupt.rs, on both paths.)
#[tokio::test]
async fn in_place_load_of_a_corrupt_record_fails_closed() {
    let store = MemoryStore::new();
    let config = SessionConfig::builder()
        .corrupt_records(satchel::CorruptRecords::FailClosed)
        .build()
        .expect("config");
    let engine = Engine::new(store.clone(), config);
    let s = engine.begin(None);
    s.insert("n", &1).expect("insert");
    let set = engine.finish(&s, 200).await.set_cookie.expect("cookie");
    let id = cookie_value(&set).to_owned();
    let key = satchel::SessionId::parse(&id).expect("id").store_key();
    assert!(store.corrupt_for_tests(&key, &[0xff, 0x00, 0x13]));

    let header = format!("id={id}");
    let s = engine.begin([header.as_bytes()]);
    let err = s.get::<i64>("n").await.expect_err("corrupt record");
    assert_eq!(err.kind(), SessionErrorKind::Store);
    s.insert("n", &2).expect_err("the request failed closed");
    let done = engine.finish(&s, 200).await;
    assert_eq!(done.error.map(|e| e.kind()), Some(SessionErrorKind::Store));
    assert_eq!(done.set_cookie, None);
    assert_eq!(store.len(), 1);
}
