//! HMAC over UTF-8 text, with the constant-time check from the `hmac` crate.

use hmac::digest::core_api::BlockSizeUser;
use hmac::digest::{Digest, FixedOutputReset};
use hmac::{Mac, SimpleHmac};

/// HMAC-`D`(key, message).
pub(crate) fn sign<D>(key: &[u8], message: &[u8]) -> Vec<u8>
where
    D: Digest + BlockSizeUser + FixedOutputReset + Clone,
{
    new_mac::<D>(key)
        .chain_update(message)
        .finalize()
        .into_bytes()
        .to_vec()
}

/// Whether `tag` is HMAC-`D`(key, message), compared in constant time.
pub(crate) fn verify<D>(key: &[u8], message: &[u8], tag: &[u8]) -> bool
where
    D: Digest + BlockSizeUser + FixedOutputReset + Clone,
{
    new_mac::<D>(key)
        .chain_update(message)
        .verify_slice(tag)
        .is_ok()
}

fn new_mac<D>(key: &[u8]) -> SimpleHmac<D>
where
    D: Digest + BlockSizeUser + FixedOutputReset + Clone,
{
    match <SimpleHmac<D> as Mac>::new_from_slice(key) {
        Ok(mac) => mac,
        // HMAC takes keys of any length (long ones are hashed, short ones padded): the
        // `hmac` crate never returns this error for it.
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    }
}
