//! HMAC-SHA256 signatures, compared in constant time.
//!
//! Every form provider and Notion sign with HMAC-SHA256; they differ only in which
//! bytes are signed and how the digest is written (hex or base64, with or without a
//! prefix). A comparison that stops at the first differing byte would let an attacker
//! learn a valid signature byte by byte from response times.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// HMAC-SHA256 of the concatenation of `parts`, keyed with `key`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Whether `given` (hex, any case) is the digest `expected`.
pub fn matches_hex(expected: &[u8; 32], given: &str) -> bool {
    match hex::decode(given.trim()) {
        Ok(bytes) => bytes.ct_eq(expected).into(),
        Err(_) => false,
    }
}

/// Whether `given` (standard base64) is the digest `expected`.
pub fn matches_base64(expected: &[u8; 32], given: &str) -> bool {
    match base64::engine::general_purpose::STANDARD.decode(given.trim()) {
        Ok(bytes) => bytes.ct_eq(expected).into(),
        Err(_) => false,
    }
}

/// The digest as lowercase hex, for signing (tests, the `sign` command, the emulator).
pub fn to_hex(digest: &[u8; 32]) -> String {
    hex::encode(digest)
}

pub fn to_base64(digest: &[u8; 32]) -> String {
    base64::engine::general_purpose::STANDARD.encode(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4231_test_case_2() {
        // RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
        let mac = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            to_hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(matches_hex(
            &mac,
            "5BDCC146BF60754E6A042426089575C75A003F089D2739839DEC58B964EC3843"
        ));
        assert!(matches_base64(&mac, &to_base64(&mac)));
    }

    #[test]
    fn near_misses_do_not_match() {
        let mac = hmac_sha256(b"k", &[b"body"]);
        let mut hex = to_hex(&mac);
        hex.replace_range(0..1, if hex.starts_with('0') { "1" } else { "0" });
        assert!(!matches_hex(&mac, &hex));
        assert!(!matches_hex(&mac, &to_hex(&mac)[..62]));
        assert!(!matches_hex(&mac, "not hex"));
        assert!(!matches_hex(&mac, ""));
        assert!(!matches_base64(&mac, "!!!"));
        assert!(!matches_base64(
            &mac,
            &to_base64(&hmac_sha256(b"other", &[b"body"]))
        ));
    }
}
