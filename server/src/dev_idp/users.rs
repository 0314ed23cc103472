//! Accounts of the development provider: the demo accounts, or those of a
//! users file, and the password check.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, bail, ensure};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Password of every demo account; published in the docs on purpose.
pub(super) const DEMO_PASSWORD: &str = "coffer-demo";

/// The demo accounts: username and groups.
const DEMO_ACCOUNTS: &[(&str, &[&str])] = &[
    ("alice", &["data-scientists"]),
    ("bob", &["data-scientists"]),
    ("carol", &["compliance"]),
    ("dave", &["admins"]),
    ("erin", &[]),
];

/// One signed-in identity as the tokens describe it.
pub(super) struct User {
    pub(super) username: String,
    /// Stable `sub`, derived from the username (see [`subject_of`]).
    pub(super) subject: String,
    pub(super) email: Option<String>,
    pub(super) groups: Vec<String>,
    password_digest: [u8; 32],
}

/// The accounts the provider knows.
pub(super) struct Users {
    by_name: HashMap<String, User>,
    demo: bool,
}

/// One entry of a users file. Not `Debug`: it holds a password.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserEntry {
    username: String,
    password: String,
    groups: Vec<String>,
    #[serde(default)]
    email: Option<String>,
}

impl Users {
    /// The five demo accounts, all with password `coffer-demo`.
    pub(super) fn demo() -> Users {
        let by_name = DEMO_ACCOUNTS
            .iter()
            .map(|(name, groups)| {
                let user = User::new(
                    name,
                    DEMO_PASSWORD,
                    groups.iter().map(|group| group.to_string()).collect(),
                    Some(format!("{name}@example.com")),
                );
                (name.to_string(), user)
            })
            .collect();
        Users {
            by_name,
            demo: true,
        }
    }

    /// Reads a users file (see [`super::DevIdp`] for its format).
    pub(super) fn load(path: &Path) -> anyhow::Result<Users> {
        let bytes =
            std::fs::read(path).with_context(|| format!("failed to read {}", path.display()))?;
        Users::from_json(&bytes).with_context(|| format!("invalid users file {}", path.display()))
    }

    /// Parses and checks the JSON of a users file.
    pub(super) fn from_json(bytes: &[u8]) -> anyhow::Result<Users> {
        // serde's message names the line and column, never a password.
        let entries: Vec<UserEntry> = serde_json::from_slice(bytes)?;
        ensure!(!entries.is_empty(), "the file lists no account");

        // Check each entry before it becomes an account.
        let mut by_name = HashMap::new();
        for entry in entries {
            check_entry(&entry)?;
            let user = User::new(&entry.username, &entry.password, entry.groups, entry.email);
            if by_name.insert(entry.username.clone(), user).is_some() {
                bail!("the account {:?} is listed twice", entry.username);
            }
        }
        Ok(Users {
            by_name,
            demo: false,
        })
    }

    /// Whether these are the built-in demo accounts.
    pub(super) fn is_demo(&self) -> bool {
        self.demo
    }

    /// The account with this username, if any.
    pub(super) fn get(&self, username: &str) -> Option<&User> {
        self.by_name.get(username)
    }

    /// The account whose password this is; `None` when the username is
    /// unknown or the password wrong, with no way to tell which.
    pub(super) fn authenticate(&self, username: &str, password: &SecretString) -> Option<&User> {
        // An unknown user costs the same hash and comparison as a known
        // one, so timing does not reveal which usernames exist.
        let offered = digest(password);
        let user = self.by_name.get(username);
        let expected = user.map_or([0u8; 32], |user| user.password_digest);
        let matches = offered == expected;
        user.filter(|_| matches)
    }
}

impl User {
    fn new(username: &str, password: &str, groups: Vec<String>, email: Option<String>) -> User {
        User {
            username: username.to_owned(),
            subject: subject_of(username),
            email,
            groups,
            password_digest: Sha256::digest(password.as_bytes()).into(),
        }
    }
}

/// SHA-256 of a secret. Secrets are compared through their digests: the
/// time a comparison takes can then reveal only how many leading bytes of
/// two SHA-256 outputs agree, which says nothing usable about the secret.
pub(super) fn digest(secret: &SecretString) -> [u8; 32] {
    Sha256::digest(secret.expose_secret().as_bytes()).into()
}

/// The `sub` of a user: a name-based UUID (version 8, SHA-256) of the
/// username, so it is stable across restarts and machines and is never the
/// email, which a user can change.
pub(super) fn subject_of(username: &str) -> String {
    let hash = Sha256::digest(format!("coffer-dev-idp/user/{username}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash[..16]);
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// Refuses entries that could not sign in or would make odd claims.
fn check_entry(entry: &UserEntry) -> anyhow::Result<()> {
    let name = &entry.username;
    ensure!(
        (1..=64).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-_@+".contains(c)),
        "the username {name:?} must have 1 to 64 characters among ASCII \
         letters, digits and .-_@+"
    );
    ensure!(
        (1..=1024).contains(&entry.password.len()),
        "the password of {name:?} must have 1 to 1024 bytes"
    );
    for group in &entry.groups {
        ensure!(
            (1..=128).contains(&group.len()) && !group.chars().any(char::is_control),
            "the group {group:?} of {name:?} must have 1 to 128 characters \
             and no control character"
        );
    }
    if let Some(email) = &entry.email {
        ensure!(
            (3..=254).contains(&email.len())
                && email.contains('@')
                && !email.chars().any(|c| c.is_control() || c.is_whitespace()),
            "the email of {name:?} is not an email address"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(text: &str) -> SecretString {
        SecretString::from(text.to_owned())
    }

    #[test]
    fn demo_accounts_sign_in_with_the_demo_password() {
        let users = Users::demo();

        let alice = users.authenticate("alice", &secret("coffer-demo"));

        let alice = alice.expect("alice signs in");
        assert_eq!(alice.groups, ["data-scientists"]);
        assert_eq!(alice.email.as_deref(), Some("alice@example.com"));
        assert!(users.get("erin").expect("erin").groups.is_empty());
    }

    #[test]
    fn a_wrong_password_or_an_unknown_user_is_refused() {
        let users = Users::demo();

        assert!(
            users
                .authenticate("alice", &secret("coffer-dem0"))
                .is_none()
        );
        assert!(users.authenticate("alice", &secret("")).is_none());
        assert!(
            users
                .authenticate("mallory", &secret("coffer-demo"))
                .is_none()
        );
    }

    #[test]
    fn the_subject_is_a_stable_uuid_that_differs_between_users() {
        let alice = subject_of("alice");

        assert_eq!(alice, subject_of("alice"));
        assert_ne!(alice, subject_of("bob"));
        let parsed = uuid::Uuid::parse_str(&alice).expect("a uuid");
        assert_eq!(parsed.get_version_num(), 8);
    }

    #[test]
    fn a_users_file_replaces_the_demo_accounts() {
        let json = br#"[
            {"username": "zoe", "password": "s3cret", "groups": ["admins"],
             "email": "zoe@example.org"},
            {"username": "yann", "password": "other", "groups": []}
        ]"#;

        let users = Users::from_json(json).expect("valid file");

        assert!(!users.is_demo());
        assert!(users.get("alice").is_none());
        let zoe = users.authenticate("zoe", &secret("s3cret")).expect("zoe");
        assert_eq!(zoe.groups, ["admins"]);
        assert_eq!(zoe.email.as_deref(), Some("zoe@example.org"));
        assert!(users.get("yann").expect("yann").email.is_none());
    }

    #[test]
    fn a_users_file_with_an_unknown_field_is_refused() {
        let json = br#"[{"username": "zoe", "password": "x", "group": ["admins"]}]"#;

        assert!(Users::from_json(json).is_err());
    }

    #[test]
    fn a_users_file_with_a_duplicate_or_malformed_account_is_refused() {
        let twice = br#"[
            {"username": "zoe", "password": "a", "groups": []},
            {"username": "zoe", "password": "b", "groups": []}
        ]"#;
        let bad_name = br#"[{"username": "zo e", "password": "a", "groups": []}]"#;
        let no_password = br#"[{"username": "zoe", "password": "", "groups": []}]"#;
        let bad_group = br#"[{"username": "zoe", "password": "a", "groups": [""]}]"#;

        assert!(Users::from_json(twice).is_err());
        assert!(Users::from_json(bad_name).is_err());
        assert!(Users::from_json(no_password).is_err());
        assert!(Users::from_json(bad_group).is_err());
        assert!(Users::from_json(b"[]").is_err());
        assert!(Users::from_json(b"{}").is_err());
    }

    #[test]
    fn a_parse_error_never_quotes_a_password() {
        let json = br#"[{"username": "zoe", "password": "hunter2", "groups": 7}]"#;

        let message = format!("{:#}", Users::from_json(json).err().expect("refused"));

        assert!(!message.contains("hunter2"), "{message}");
    }
}
