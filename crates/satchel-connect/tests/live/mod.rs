//! The pieces of the live Express test: the Node app, the satchel app, a scripted user.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

pub mod flow;
pub mod http;
pub mod node;
pub mod satchel_app;
