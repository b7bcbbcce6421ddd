//! The background tasks of a [`SentinelConn`]: one subscriber per sentinel (failover
//! start, switch, abort) and the fallback poll. Each holds only a `Weak` to the connection between
//! steps, so dropping the store ends them (within [`PING`] for a subscriber).

use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::StreamExt as _;

use super::{about, parse_switch, Named, SentinelConn};

/// A failover of the service is starting (published by its leader only): fence.
const STARTING: [&str; 2] = ["+elected-leader", "+selected-slave"];

/// A failover ended without a switch: lift the fence.
const ABORTED: [&str; 4] = [
    "-failover-abort-not-elected",
    "-failover-abort-no-good-slave",
    "-failover-abort-slave-timeout",
    "+failover-end-for-timeout",
];

/// How long a subscription may stay silent before it is checked with a `PING` (a
/// sentinel that vanished without closing the connection is noticed this late; the poll
/// covers the gap).
pub(super) const PING: Duration = Duration::from_secs(5);

/// The pause before re-subscribing to a sentinel that could not be reached.
const RETRY: Duration = Duration::from_millis(500);

/// Starts one subscriber per sentinel and, unless disabled, the poll.
pub(super) fn start(this: &Arc<SentinelConn>) {
    for i in 0..this.sentinels.len() {
        tokio::spawn(subscribe(Arc::downgrade(this), i));
    }
    if let Some(period) = this.poll {
        tokio::spawn(poll(Arc::downgrade(this), period));
    }
}

/// Asks every sentinel every `period` (the fallback for a missed event).
async fn poll(weak: Weak<SentinelConn>, period: Duration) {
    loop {
        tokio::time::sleep(period).await;
        let Some(me) = weak.upgrade() else { return };
        me.ask_all().await;
    }
}

/// Follows sentinel `i`'s `+switch-master` messages for as long as the store lives,
/// re-subscribing after every lost connection.
async fn subscribe(weak: Weak<SentinelConn>, i: usize) {
    loop {
        let Some((client, timeout)) = weak
            .upgrade()
            .and_then(|me| Some((me.sentinels.get(i)?.clone(), me.ask_timeout)))
        else {
            return;
        };
        let subscribed = tokio::time::timeout(timeout, async {
            let mut pubsub = client.get_async_pubsub().await?;
            let mut channels = vec!["+switch-master"];
            channels.extend(STARTING);
            channels.extend(ABORTED);
            pubsub.subscribe(&channels).await?;
            redis::RedisResult::Ok(pubsub.split())
        })
        .await;
        let Ok(Ok((mut sink, mut stream))) = subscribed else {
            tokio::time::sleep(RETRY).await;
            continue;
        };
        // An event may have been published while this subscription was down: catch up
        // with what this sentinel names now.
        match weak.upgrade() {
            Some(me) => {
                if let Some(n) = me.ask(i).await {
                    me.observe(n, false);
                }
            }
            None => return,
        }
        loop {
            match tokio::time::timeout(PING, stream.next()).await {
                Ok(Some(msg)) => {
                    let Some(me) = weak.upgrade() else { return };
                    let payload: String = msg.get_payload().unwrap_or_default();
                    let channel = msg.get_channel_name();
                    if channel == "+switch-master" {
                        on_switch(&me, i, &payload).await;
                    } else if about(&payload, &me.service) {
                        if STARTING.contains(&channel) {
                            me.raise_fence();
                        } else if ABORTED.contains(&channel) {
                            me.lift();
                        }
                    }
                }
                Ok(None) => break, // the connection is gone
                Err(_) => {
                    if weak.strong_count() == 0 {
                        return;
                    }
                    let pong = tokio::time::timeout(timeout, sink.ping::<String>()).await;
                    if !matches!(pong, Ok(Ok(_))) {
                        break;
                    }
                }
            }
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// A `+switch-master` from sentinel `i`: move to the node it names at once, then read
/// that sentinel's epoch for it (so that a sentinel that has not caught up yet cannot
/// move the store back).
async fn on_switch(me: &SentinelConn, i: usize, payload: &str) {
    let Some((host, port)) = parse_switch(payload, &me.service) else {
        return;
    };
    let epoch = me.known_epoch();
    me.observe(Named { host, port, epoch }, true);
    // Also when the store already followed that node (the poll was first).
    me.lift();
    if let Some(n) = me.ask(i).await {
        me.observe(n, false);
    }
}
