//! A link's token and its share id.
//!
//! The token is the only secret of a link: 32 bytes from the operating
//! system's generator, written as base64url without padding (43
//! characters). Coffer keeps only its SHA-256, so a copy of the bucket
//! opens no link. The share id names a link in the API, the audit trail
//! and the logs; it sorts newest first and shares nothing with the token.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use rand::rngs::OsRng;
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

/// Random bytes in a token: 256 bits, twice the least ASVS asks for.
const TOKEN_BYTES: usize = 32;

/// Characters of a token as written in a URL.
const TOKEN_CHARS: usize = 43;

/// Digits of the inverted creation time at the head of a share id:
/// milliseconds fit in 13 digits until the year 2286.
const TIME_DIGITS: usize = 13;

/// The largest 13-digit number, from which creation times are subtracted
/// so that later links sort first.
const TIME_CEILING: i128 = 9_999_999_999_999;

/// Random hexadecimal characters at the end of a share id.
const ID_RANDOM_CHARS: usize = 16;

/// A freshly minted token. It is shown once, in the answer that creates
/// the link, and deliberately does not print.
pub struct Token(String);

impl Token {
    /// A new token from the operating system's generator.
    pub fn generate() -> Token {
        let mut bytes = [0u8; TOKEN_BYTES];
        OsRng.fill_bytes(&mut bytes);
        Token(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The token as it goes into the link's URL.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the bucket keeps instead of the token.
    pub fn hash(&self) -> String {
        hash_token(&self.0)
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Token(…)")
    }
}

/// Whether text has the shape of a token, so that nothing else costs a
/// storage read.
pub fn is_well_formed(text: &str) -> bool {
    text.len() == TOKEN_CHARS
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && URL_SAFE_NO_PAD
            .decode(text)
            .is_ok_and(|bytes| bytes.len() == TOKEN_BYTES)
}

/// The hex SHA-256 of a token, as stored.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new share id: the inverted creation time in milliseconds, a dash and
/// 64 random bits, so that ids sort newest first and cannot be guessed.
pub fn new_share_id(created_at: OffsetDateTime) -> String {
    let millis = created_at.unix_timestamp_nanos() / 1_000_000;
    let inverted = (TIME_CEILING - millis).clamp(0, TIME_CEILING);
    let mut random = [0u8; ID_RANDOM_CHARS / 2];
    OsRng.fill_bytes(&mut random);
    format!(
        "{inverted:0width$}-{}",
        hex::encode(random),
        width = TIME_DIGITS
    )
}

/// Whether text has the shape of a share id; anything else names no link.
pub fn is_share_id(text: &str) -> bool {
    let Some((time, random)) = text.split_once('-') else {
        return false;
    };
    time.len() == TIME_DIGITS
        && time.bytes().all(|b| b.is_ascii_digit())
        && random.len() == ID_RANDOM_CHARS
        && random
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_distinct_and_well_formed() {
        let a = Token::generate();
        let b = Token::generate();
        assert_eq!(a.expose().len(), TOKEN_CHARS);
        assert_ne!(a.expose(), b.expose());
        assert!(is_well_formed(a.expose()));
        assert_eq!(a.hash(), hash_token(a.expose()));
        assert_eq!(a.hash().len(), 64);
        assert_eq!(format!("{a:?}"), "Token(…)");
    }

    #[test]
    fn anything_not_shaped_like_a_token_is_refused() {
        let token = Token::generate();
        let short = &token.expose()[1..];
        let long = format!("{}A", token.expose());
        let padded = format!("{}=", &token.expose()[1..]);
        let slash = format!("/{}", &token.expose()[1..]);
        for bad in ["", short, &long, &padded, &slash] {
            assert!(!is_well_formed(bad), "{bad}");
        }
    }

    #[test]
    fn share_ids_sort_newest_first_and_parse() {
        let earlier = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("time");
        let later = earlier + time::Duration::milliseconds(1);
        let first = new_share_id(earlier);
        let second = new_share_id(later);
        assert!(second < first, "{second} sorts before {first}");
        assert!(is_share_id(&first) && is_share_id(&second));
        assert_eq!(first.len(), TIME_DIGITS + 1 + ID_RANDOM_CHARS);
        for bad in ["", "123", "../x", &first.to_uppercase().replace('-', "_")] {
            assert!(!is_share_id(bad), "{bad}");
        }
    }
}
