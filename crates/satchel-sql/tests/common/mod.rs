//! Shared by the backend test files: service URLs, unique names, a scratch runtime.
#![allow(dead_code, unreachable_pub)] // each test file uses a different part

use std::future::Future;

/// The URL in `var`, or `None` after a loud notice. Under `CI=true` a missing service is a
/// failure: CI must never pass by skipping the tests that need it.
pub fn service_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            let how = format!(
                "{var} is not set. Start the services with `eval \"$(scripts/services start)\"` \
                 (or run `scripts/test`, which does it) and run the tests again."
            );
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{how}");
            }
            eprintln!("\n!!!!!!!!!! SKIPPED: {how}\n");
            None
        }
    }
}

/// A fresh lower-case name for a schema, database or file: `satchel_t_<random hex>`.
pub fn unique_name() -> String {
    format!("satchel_t_{:016x}", rand::random::<u64>())
}

/// Runs `f` to completion on a new runtime on its own thread: for cleanup in `Drop`, which
/// may run inside another runtime.
pub fn block_on_thread<F>(f: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let _ = std::thread::spawn(move || {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt.block_on(f),
            Err(err) => eprintln!("cleanup runtime: {err}"),
        }
    })
    .join();
}

/// The URL `base` with its path (database) replaced by `db`.
pub fn with_database(base: &str, db: &str) -> String {
    let (before_query, query) = match base.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (base, None),
    };
    let scheme_end = before_query.find("://").map_or(0, |i| i + 3);
    let path_start = before_query[scheme_end..]
        .find('/')
        .map_or(before_query.len(), |i| scheme_end + i);
    let mut url = format!("{}/{db}", &before_query[..path_start]);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}
