//! The signing key and the tokens it signs: RS256 ID tokens and access
//! tokens shaped like Cognito's.

use std::path::Path;

use anyhow::{Context, ensure};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use openidconnect::core::{
    CoreGenderClaim, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey, CoreUserInfoVerifier,
};
use openidconnect::{
    AccessToken, AdditionalClaims, Audience, ClientId, EndUserEmail, EndUserUsername, IdToken,
    IdTokenClaims, IssuerUrl, JsonWebKeyId, Nonce, PrivateSigningKey, StandardClaims,
    SubjectIdentifier, UserInfoClaims, UserInfoJsonWebToken,
};
use rand::rngs::OsRng;
use rsa::RsaPrivateKey;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::files;

/// Lifetime of ID and access tokens, as Cognito's default.
pub(super) const TOKEN_LIFETIME: TimeDelta = TimeDelta::hours(1);

/// Size of a generated signing key.
const KEY_BITS: usize = 2048;

/// The only signing algorithm, the one every relying party supports.
pub(super) const ALG: CoreJwsSigningAlgorithm = CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256;

/// An ID token of this provider.
pub(super) type DevIdToken = IdToken<
    IdTokenExtras,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// A signed access token. openidconnect keeps its generic JWT type private;
/// its signed user-info JWT is the public wrapper around the same signing
/// code, and its claims (`iss`, `sub`, no required `aud`, extra claims
/// flattened beside them) are exactly the shape of an access token.
pub(super) type AccessTokenJwt = UserInfoJsonWebToken<
    AccessTokenClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// Claims of the ID token beyond the standard ones.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub(super) struct IdTokenExtras {
    /// `"id"`, so that an ID token is never taken for an access token.
    pub(super) token_use: String,
    /// The groups claim, under its configured name.
    #[serde(flatten)]
    pub(super) groups: Map<String, Value>,
}
impl AdditionalClaims for IdTokenExtras {}

/// Claims of the access token beside `iss` and `sub`, as Cognito names them.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub(super) struct AccessTokenClaims {
    pub(super) client_id: String,
    /// `"access"`.
    pub(super) token_use: String,
    /// Granted scopes, separated by spaces.
    pub(super) scope: String,
    pub(super) exp: i64,
    pub(super) iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) auth_time: Option<i64>,
    /// The user's name; absent from a machine client's token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) username: Option<String>,
    pub(super) jti: String,
    /// The groups claim, under its configured name.
    #[serde(flatten)]
    pub(super) groups: Map<String, Value>,
}
impl AdditionalClaims for AccessTokenClaims {}

/// Who a token speaks for: a signed-in user or a machine client.
pub(super) struct Subject<'a> {
    pub(super) sub: &'a str,
    pub(super) username: Option<&'a str>,
    pub(super) email: Option<&'a str>,
    pub(super) groups: &'a [String],
    pub(super) auth_time: Option<DateTime<Utc>>,
}

/// The circumstances of one token response.
pub(super) struct Issue<'a> {
    pub(super) issuer: &'a IssuerUrl,
    pub(super) groups_claim: &'a str,
    pub(super) client_id: &'a str,
    pub(super) scopes: &'a [String],
    pub(super) now: DateTime<Utc>,
}

/// The provider's RSA key and its published form.
pub(super) struct Signer {
    key: CoreRsaPrivateSigningKey,
    key_id: JsonWebKeyId,
    jwks: CoreJsonWebKeySet,
}

impl Signer {
    /// Reads the key from `dir/signing-key.pem`, generating it on first use.
    pub(super) fn load_or_create(dir: &Path) -> anyhow::Result<Signer> {
        // Generating takes a moment; it happens once per data folder.
        let path = dir.join("signing-key.pem");
        let pem = files::read_or_create_private(&path, || {
            let key = RsaPrivateKey::new(&mut OsRng, KEY_BITS)
                .context("failed to generate the signing key")?;
            let pem = key
                .to_pkcs1_pem(LineEnding::LF)
                .context("failed to encode the signing key")?;
            Ok(pem.to_string())
        })?;
        Signer::from_pem(&pem).with_context(|| format!("invalid signing key {}", path.display()))
    }

    /// A signer for a PKCS#1 PEM RSA key of at least 2048 bits.
    pub(super) fn from_pem(pem: &str) -> anyhow::Result<Signer> {
        // The key id is the key's RFC 7638 thumbprint, so it changes exactly
        // when the key does.
        let key = RsaPrivateKey::from_pkcs1_pem(pem).context("not a PKCS#1 PEM RSA key")?;
        ensure!(
            key.size() * 8 >= KEY_BITS,
            "the key has fewer than {KEY_BITS} bits"
        );
        let key_id = JsonWebKeyId::new(thumbprint(&key));

        // openidconnect signs with the key and publishes its public half.
        let signing_key = CoreRsaPrivateSigningKey::from_pem(pem, Some(key_id.clone()))
            .map_err(anyhow::Error::msg)?;
        let jwks = CoreJsonWebKeySet::new(vec![signing_key.as_verification_key()]);
        Ok(Signer {
            key: signing_key,
            key_id,
            jwks,
        })
    }

    /// The `kid` of every token.
    pub(super) fn key_id(&self) -> &str {
        self.key_id.as_str()
    }

    /// The public key set served at `/jwks`.
    pub(super) fn jwks(&self) -> &CoreJsonWebKeySet {
        &self.jwks
    }

    /// Signs an access token: `iss`, `sub`, `client_id`, `token_use`,
    /// `scope`, `exp`, `iat`, the groups and no `aud`, as Cognito does.
    pub(super) fn access_token(
        &self,
        issue: &Issue<'_>,
        subject: &Subject<'_>,
    ) -> anyhow::Result<AccessToken> {
        // Claims beside the standard ones.
        let extras = AccessTokenClaims {
            client_id: issue.client_id.to_owned(),
            token_use: "access".to_owned(),
            scope: issue.scopes.join(" "),
            exp: (issue.now + TOKEN_LIFETIME).timestamp(),
            iat: issue.now.timestamp(),
            auth_time: subject.auth_time.map(|time| time.timestamp()),
            username: subject.username.map(str::to_owned),
            jti: uuid::Uuid::new_v4().to_string(),
            groups: groups_claim(issue.groups_claim, subject.groups),
        };

        // Only `sub` of the standard claims, and the issuer.
        let standard = StandardClaims::new(SubjectIdentifier::new(subject.sub.to_owned()));
        let claims = UserInfoClaims::new(standard, extras).set_issuer(Some(issue.issuer.clone()));
        let jwt = AccessTokenJwt::new(claims, &self.key, ALG)
            .context("failed to sign an access token")?;
        let text = serde_json::to_value(&jwt)
            .context("failed to serialise an access token")?
            .as_str()
            .map(str::to_owned)
            .context("an access token did not serialise to a string")?;
        Ok(AccessToken::new(text))
    }

    /// Signs an ID token for a signed-in user, bound to `access_token`
    /// through `at_hash`.
    pub(super) fn id_token(
        &self,
        issue: &Issue<'_>,
        subject: &Subject<'_>,
        nonce: Option<&str>,
        access_token: &AccessToken,
    ) -> anyhow::Result<DevIdToken> {
        // The user's profile, keyed by the stable subject, never the email.
        let standard = StandardClaims::new(SubjectIdentifier::new(subject.sub.to_owned()))
            .set_preferred_username(
                subject
                    .username
                    .map(|name| EndUserUsername::new(name.into())),
            )
            .set_email(subject.email.map(|email| EndUserEmail::new(email.into())))
            .set_email_verified(subject.email.map(|_| true));
        let extras = IdTokenExtras {
            token_use: "id".to_owned(),
            groups: groups_claim(issue.groups_claim, subject.groups),
        };

        // The registered claims; the library adds `at_hash` and `kid`.
        let claims = IdTokenClaims::new(
            issue.issuer.clone(),
            vec![Audience::new(issue.client_id.to_owned())],
            issue.now + TOKEN_LIFETIME,
            issue.now,
            standard,
            extras,
        )
        .set_auth_time(subject.auth_time)
        .set_nonce(nonce.map(|nonce| Nonce::new(nonce.to_owned())));
        DevIdToken::new(claims, &self.key, ALG, Some(access_token), None)
            .context("failed to sign an ID token")
    }
}

impl Signer {
    /// Checks an access token of this provider: signature, issuer,
    /// `token_use` and expiry. Access tokens carry no `aud`, so none is
    /// required.
    pub(super) fn verify_access_token(
        &self,
        issuer: &IssuerUrl,
        token: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<UserInfoClaims<AccessTokenClaims, CoreGenderClaim>> {
        // Signature and issuer, checked by the library.
        let jwt: AccessTokenJwt = serde_json::from_value(Value::String(token.to_owned()))
            .context("not a JWT of the expected shape")?;
        // The client id only matters for `aud`, which access tokens lack.
        let verifier = CoreUserInfoVerifier::new(
            ClientId::new(String::new()),
            issuer.clone(),
            self.jwks.clone(),
            None,
        )
        .require_audience_match(false);
        let claims = jwt
            .claims(&verifier)
            .context("the token failed verification")?;

        // What the library does not know about access tokens.
        let extras = claims.additional_claims();
        ensure!(extras.token_use == "access", "not an access token");
        ensure!(now.timestamp() < extras.exp, "the access token has expired");
        Ok(claims)
    }

    /// Checks an `id_token_hint`: an ID token this provider signed for
    /// `client_id`. An expired hint is still a hint (RP-Initiated Logout
    /// 1.0, section 2), so expiry is not checked.
    pub(super) fn verify_id_token_hint(
        &self,
        issuer: &IssuerUrl,
        client_id: &str,
        hint: &str,
    ) -> anyhow::Result<()> {
        // The verifier's clock is set before any token could expire.
        let token: DevIdToken = hint.parse().context("not an ID token")?;
        let verifier = CoreIdTokenVerifier::new_public_client(
            ClientId::new(client_id.to_owned()),
            issuer.clone(),
            self.jwks.clone(),
        )
        .set_time_fn(|| DateTime::<Utc>::MIN_UTC);
        let claims = token
            .claims(&verifier, |_: Option<&Nonce>| Ok(()))
            .context("the ID token failed verification")?;
        ensure!(
            claims.additional_claims().token_use == "id",
            "not an ID token"
        );
        Ok(())
    }
}

/// The groups claim as Cognito sends it: a JSON array, left out when the
/// user belongs to no group.
fn groups_claim(name: &str, groups: &[String]) -> Map<String, Value> {
    let mut claims = Map::new();
    if !groups.is_empty() {
        let list = groups.iter().cloned().map(Value::String).collect();
        claims.insert(name.to_owned(), Value::Array(list));
    }
    claims
}

/// The RFC 7638 thumbprint of an RSA public key: SHA-256 over its JWK with
/// the required members in lexicographic order, base64url-encoded.
fn thumbprint(key: &RsaPrivateKey) -> String {
    let e = URL_SAFE_NO_PAD.encode(key.e().to_bytes_be());
    let n = URL_SAFE_NO_PAD.encode(key.n().to_bytes_be());
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_groups_claim_is_an_array_under_its_configured_name() {
        let groups = vec!["admins".to_owned(), "compliance".to_owned()];

        let claims = groups_claim("cognito:groups", &groups);

        assert_eq!(
            Value::Object(claims),
            serde_json::json!({"cognito:groups": ["admins", "compliance"]})
        );
    }

    #[test]
    fn the_groups_claim_is_left_out_for_a_user_in_no_group() {
        assert!(groups_claim("cognito:groups", &[]).is_empty());
    }

    #[test]
    fn a_key_below_2048_bits_is_refused() {
        let key = RsaPrivateKey::new(&mut OsRng, 1024).expect("small key");
        let pem = key.to_pkcs1_pem(LineEnding::LF).expect("pem");

        assert!(Signer::from_pem(&pem).is_err());
    }
}
