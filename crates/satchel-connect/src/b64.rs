//! The three base64 dialects Node's session libraries use, and Node's lenient reader.

use base64::alphabet;
use base64::engine::general_purpose::{
    GeneralPurpose, GeneralPurposeConfig, STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD,
};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

/// `Buffer.from(text, 'base64')` minus its garbage tolerance: it reads both alphabets and
/// does not care about padding or leftover bits; we do the same but refuse characters
/// outside the alphabets instead of skipping them.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Standard alphabet with `=` padding (cookie-session / koa-session payloads).
pub(crate) fn standard(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Standard alphabet without padding (express-session signatures).
pub(crate) fn standard_no_pad(bytes: &[u8]) -> String {
    STANDARD_NO_PAD.encode(bytes)
}

/// The bytes of an express-session signature, only if `text` is exactly the unpadded
/// standard encoding of them. Strict decoding makes "decodes to the MAC" equivalent to
/// Node's "is the same text as the expected signature": `=` padding, the URL-safe alphabet
/// and non-zero leftover bits all fail.
pub(crate) fn decode_standard_no_pad(text: &str) -> Option<Vec<u8>> {
    STANDARD_NO_PAD.decode(text).ok()
}

/// URL-safe alphabet without padding (keygrip signatures).
pub(crate) fn url_safe_no_pad(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Strict URL-safe unpadded decoding; see [`decode_standard_no_pad`] for why strict.
pub(crate) fn decode_url_safe_no_pad(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// Reads a payload cookie as Node does (either alphabet, even mixed; padding optional;
/// leftover bits ignored). `None` for any other character.
pub(crate) fn decode_lenient(text: &str) -> Option<Vec<u8>> {
    // Node stops at the first '='; anything after padding is not a payload we wrote.
    let body = text.trim_end_matches('=');
    if body.contains('=') {
        return None;
    }
    let standard: String = body
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    LENIENT.decode(standard).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_decoders_refuse_other_spellings() {
        let sig = standard_no_pad(&[0xfb, 0xff]);
        assert_eq!(sig, "+/8");
        assert_eq!(decode_standard_no_pad("+/8"), Some(vec![0xfb, 0xff]));
        assert_eq!(decode_standard_no_pad("+/8="), None);
        assert_eq!(decode_standard_no_pad("-_8"), None);
        assert_eq!(decode_standard_no_pad("+/9"), None); // non-zero leftover bits
        assert_eq!(decode_url_safe_no_pad("-_8"), Some(vec![0xfb, 0xff]));
        assert_eq!(decode_url_safe_no_pad("+/8"), None);
    }

    #[test]
    fn lenient_decoder_reads_what_node_reads() {
        assert_eq!(decode_lenient("e30="), Some(b"{}".to_vec()));
        assert_eq!(decode_lenient("e30"), Some(b"{}".to_vec()));
        assert_eq!(decode_lenient("-_8"), Some(vec![0xfb, 0xff]));
        assert_eq!(decode_lenient("+/9"), Some(vec![0xfb, 0xff]));
        assert_eq!(decode_lenient("not-json!"), None);
        assert_eq!(decode_lenient("e3=0"), None);
        assert_eq!(decode_lenient(""), Some(Vec::new()));
    }
}
