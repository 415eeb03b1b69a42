//! `X-Signature: sha1=<hex>`: HMAC-SHA1 of the raw body with the shared secret.
//! Checked over the bytes as received, before any parsing, in constant time.

use hmac::{Hmac, Mac};
use sha1::Sha1;

type HmacSha1 = Hmac<Sha1>;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing X-Signature header")]
    Missing,
    #[error("X-Signature does not match the body")]
    Mismatch,
}

/// The header value for `body` signed with `secret`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = HmacSha1::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks an `X-Signature` header value against `body`.
pub fn verify(secret: &[u8], body: &[u8], header: Option<&[u8]>) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let hex_digest = header
        .strip_prefix(b"sha1=")
        .ok_or(SignatureError::Mismatch)?;
    let expected = hex::decode(hex_digest).map_err(|_| SignatureError::Mismatch)?;
    let mut mac = HmacSha1::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_rfc_style_test_vector() {
        assert_eq!(
            sign(b"key", b"The quick brown fox jumps over the lazy dog"),
            "sha1=de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9"
        );
    }

    #[test]
    fn matches_the_onebot_notes_vector() {
        let body = r#"{"time":1515204254,"self_id":10001000,"post_type":"message","message_type":"private","sub_type":"friend","message_id":12,"user_id":12345678,"message":"你好～","raw_message":"你好～","font":456,"sender":{"nickname":"小不点","sex":"male","age":18}}"#;
        assert_eq!(body.len(), 255);
        let header = "sha1=510ce9f5526c221195709b5032496d265df75d29";
        assert_eq!(sign(b"some-secret", body.as_bytes()), header);
        assert_eq!(
            verify(b"some-secret", body.as_bytes(), Some(header.as_bytes())),
            Ok(())
        );
    }

    #[test]
    fn missing_forged_and_garbled_signatures_are_told_apart() {
        let body = b"{}";
        assert_eq!(verify(b"k", body, None), Err(SignatureError::Missing));
        let forged = sign(b"other", body);
        assert_eq!(
            verify(b"k", body, Some(forged.as_bytes())),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"k", body, Some(b"sha1=zz")),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"k", body, Some(b"md5=00")),
            Err(SignatureError::Mismatch)
        );
    }
}
