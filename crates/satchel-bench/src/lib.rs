//! Benchmarks for satchel against peer session libraries.
//!
//! * `loadbench` (see [`harness`]): HTTP/1.1 load over loopback against one server thread per
//!   variant, interleaved rounds, medians and spreads, written to `docs/benchmarks.md`.
//! * `memsize`: resident memory per session in the in-memory stores.
//!
//! A *variant* is one server setup (framework + session library + store). Adding one is a new
//! module under [`variants`] with a `spawn` function plus one line in [`variants::all`].

pub mod client;
pub mod faults;
pub mod harness;
pub mod redis_keys;
pub mod redis_priority;
pub mod redis_ref;
pub mod redis_server;
pub mod report;
pub mod server;
pub mod sys;
pub mod variants;

pub use harness::{BenchConfig, BenchResults};
pub use variants::{Route, Variant};

/// SplitMix64: a tiny, fast, non-cryptographic RNG, good enough to pick cookies uniformly.
#[derive(Debug, Clone)]
pub struct FastRng(u64);

impl FastRng {
    /// A generator from a seed (any value, including 0).
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; the bias is below 2^-40 for our sizes).
    #[allow(clippy::cast_possible_truncation)] // the result is < n, which is a usize
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}
