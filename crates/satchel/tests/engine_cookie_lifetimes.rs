//! SEC-47: `Cookie` headers carrying what belongs in `Set-Cookie` — `Max-Age` past every
//! integer type, an `Expires` in year 9999 — are only cookies with odd names to the
//! engine's reader: ignored, never a panic, never a store call of their own, and the real
//! session cookie beside them still works.

use satchel::{Engine, Instrumented, MemoryStore, SessionConfig};

const HUGE: &str = "18446744073709551616";
const YEAR_9999_HTTP: &str = "Fri, 31 Dec 9999 23:59:59 GMT";

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(f)
}

#[test]
fn lifetime_attributes_in_a_cookie_header_are_ignored() {
    block(async {
        let store = Instrumented::new(MemoryStore::new());
        let engine = Engine::new(store.clone(), SessionConfig::default());
        let session = engine.begin(std::iter::empty::<&[u8]>());
        session.insert("n", &7).expect("insert");
        let done = engine.finish(&session, 200).await;
        let pair = done
            .set_cookie
            .expect("cookie")
            .split(';')
            .next()
            .expect("pair")
            .to_owned();

        let attrs = format!("Max-Age={HUGE}; Expires={YEAR_9999_HTTP}");
        let before = store.calls().total();
        for header in [
            attrs.clone(),
            format!("id={HUGE}"),
            format!("id={YEAR_9999_HTTP}"),
        ] {
            let session = engine.begin([header.as_bytes()]);
            assert_eq!(
                session.get::<i64>("n").await.expect("get"),
                None,
                "{header}"
            );
            let done = engine.finish(&session, 200).await;
            assert!(done.error.is_none());
        }
        assert_eq!(store.calls().total(), before, "no lookup for any of them");

        let header = format!("{attrs}; {pair}");
        let session = engine.begin([header.as_bytes()]);
        assert_eq!(session.get::<i64>("n").await.expect("get"), Some(7));
        let done = engine.finish(&session, 200).await;
        assert!(done.error.is_none() && done.set_cookie.is_none());
    });
}
