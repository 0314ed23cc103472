//! Authorization codes: one-shot, short-lived, bound to a client, a
//! redirect URI and a PKCE challenge. They live in memory because the
//! provider serves only this process.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use openidconnect::{PkceCodeChallenge, PkceCodeVerifier};
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

/// How long a code can be redeemed after it was issued.
pub(super) const CODE_LIFETIME: TimeDelta = TimeDelta::seconds(60);

/// Codes waiting to be redeemed at most; more means something is looping.
const MAX_PENDING_CODES: usize = 10_000;

/// What a code stands for: the sign-in that produced it.
#[derive(Clone, Debug)]
pub(super) struct CodeGrant {
    pub(super) client_id: String,
    pub(super) redirect_uri: String,
    pub(super) code_challenge: String,
    pub(super) nonce: Option<String>,
    pub(super) scopes: Vec<String>,
    pub(super) username: String,
    pub(super) auth_time: DateTime<Utc>,
}

/// Why a code could not be redeemed.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum RedeemError {
    /// Never issued, or already redeemed.
    Unknown,
    Expired,
}

/// Too many codes are waiting to be redeemed.
#[derive(Debug)]
pub(super) struct StoreFull;

/// Pending codes, keyed by the SHA-256 of the code: the store never holds a
/// redeemable code, and a lookup's timing says nothing about the codes.
#[derive(Default)]
pub(super) struct CodeStore {
    pending: HashMap<[u8; 32], Pending>,
}

struct Pending {
    grant: CodeGrant,
    expires_at: DateTime<Utc>,
}

impl CodeStore {
    /// Issues a fresh code for `grant`, valid for [`CODE_LIFETIME`] from
    /// `now`.
    pub(super) fn issue(
        &mut self,
        grant: CodeGrant,
        now: DateTime<Utc>,
    ) -> Result<String, StoreFull> {
        // Expired codes can never be redeemed; forget them once the store
        // fills up, which keeps issuing cheap.
        if self.pending.len() >= MAX_PENDING_CODES {
            self.pending.retain(|_, pending| pending.expires_at > now);
        }
        if self.pending.len() >= MAX_PENDING_CODES {
            return Err(StoreFull);
        }

        // 256 random bits make guessing pointless.
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        let code = URL_SAFE_NO_PAD.encode(bytes);
        let pending = Pending {
            grant,
            expires_at: now + CODE_LIFETIME,
        };
        self.pending.insert(key_of(&code), pending);
        Ok(code)
    }

    /// Redeems `code` once: whatever the outcome, it can never be redeemed
    /// again.
    pub(super) fn redeem(
        &mut self,
        code: &str,
        now: DateTime<Utc>,
    ) -> Result<CodeGrant, RedeemError> {
        let pending = self
            .pending
            .remove(&key_of(code))
            .ok_or(RedeemError::Unknown)?;
        if now >= pending.expires_at {
            return Err(RedeemError::Expired);
        }
        Ok(pending.grant)
    }
}

fn key_of(code: &str) -> [u8; 32] {
    Sha256::digest(code.as_bytes()).into()
}

/// Whether `challenge` has the shape of an S256 challenge: the unpadded
/// base64url of a SHA-256 digest, 43 characters (RFC 7636, section 4.2).
pub(super) fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `verifier` is a well-formed code verifier whose S256 transform is
/// `challenge` (RFC 7636, sections 4.1 and 4.6).
pub(super) fn verify_pkce_s256(verifier: &str, challenge: &str) -> bool {
    // The RFC's alphabet and length; the library asserts the length, so it
    // is checked before the call.
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if !well_formed {
        return false;
    }

    // The challenge travelled in the front channel, so comparing it in
    // plain time gives nothing away.
    let verifier = PkceCodeVerifier::new(verifier.to_owned());
    PkceCodeChallenge::from_code_verifier_sha256(&verifier).as_str() == challenge
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of RFC 7636, appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn grant() -> CodeGrant {
        CodeGrant {
            client_id: "coffer-portal".to_owned(),
            redirect_uri: "http://127.0.0.1:3000/auth/callback".to_owned(),
            code_challenge: CHALLENGE.to_owned(),
            nonce: Some("n-0S6_WzA2Mj".to_owned()),
            scopes: vec!["openid".to_owned()],
            username: "alice".to_owned(),
            auth_time: start(),
        }
    }

    fn start() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).expect("valid time")
    }

    #[test]
    fn the_rfc_example_verifier_matches_its_challenge() {
        assert!(verify_pkce_s256(VERIFIER, CHALLENGE));
        assert!(is_s256_challenge(CHALLENGE));
    }

    #[test]
    fn a_different_or_malformed_verifier_does_not_match() {
        let other = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl";

        assert!(!verify_pkce_s256(other, CHALLENGE));
        assert!(!verify_pkce_s256("short", CHALLENGE));
        assert!(!verify_pkce_s256(&"a".repeat(129), CHALLENGE));
        assert!(!verify_pkce_s256(&format!("{VERIFIER}!"), CHALLENGE));
        assert!(!verify_pkce_s256(CHALLENGE, CHALLENGE));
    }

    #[test]
    fn a_plain_challenge_does_not_look_like_s256() {
        assert!(!is_s256_challenge(&CHALLENGE[..42]));
        assert!(!is_s256_challenge(&format!("{CHALLENGE}=")));
        assert!(!is_s256_challenge(""));
    }

    #[test]
    fn a_code_is_redeemed_once_only() {
        let mut store = CodeStore::default();
        let code = store.issue(grant(), start()).expect("issued");

        let first = store.redeem(&code, start());
        let second = store.redeem(&code, start());

        assert_eq!(first.expect("redeemed").username, "alice");
        assert_eq!(second.err(), Some(RedeemError::Unknown));
    }

    #[test]
    fn a_code_expires_sixty_seconds_after_it_was_issued() {
        let mut store = CodeStore::default();
        let early = store.issue(grant(), start()).expect("issued");
        let late = store.issue(grant(), start()).expect("issued");

        let in_time = store.redeem(&early, start() + TimeDelta::seconds(59));
        let too_late = store.redeem(&late, start() + TimeDelta::seconds(60));

        assert!(in_time.is_ok());
        assert_eq!(too_late.err(), Some(RedeemError::Expired));
    }

    #[test]
    fn an_unknown_code_is_refused() {
        let mut store = CodeStore::default();

        assert_eq!(
            store.redeem("made-up", start()).err(),
            Some(RedeemError::Unknown)
        );
    }

    #[test]
    fn a_full_store_refuses_codes_until_they_expire() {
        let mut store = CodeStore::default();
        for _ in 0..MAX_PENDING_CODES {
            store.issue(grant(), start()).expect("issued");
        }

        let while_full = store.issue(grant(), start() + TimeDelta::seconds(59));
        let after_expiry = store.issue(grant(), start() + CODE_LIFETIME);

        assert!(while_full.is_err());
        assert!(after_expiry.is_ok());
        assert_eq!(store.pending.len(), 1);
    }
}
