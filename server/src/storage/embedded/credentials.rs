//! The embedded endpoint's one access key: generated on first run, kept in
//! the data folder readable by its owner only, and reused after.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use rand::Rng as _;
use rand::distributions::Alphanumeric;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// Where the key is kept, relative to the data folder.
const CREDENTIALS_FILE: &str = "s3-credentials.json";

#[derive(Serialize, Deserialize)]
struct StoredCredentials {
    access_key_id: String,
    secret_access_key: String,
}

/// The credentials file inside `data_dir`.
pub fn credentials_path(data_dir: &Path) -> PathBuf {
    data_dir.join(CREDENTIALS_FILE)
}

/// Credentials for the endpoint: generated on first run and kept in the data
/// folder (file mode 0600), reused after.
pub fn load_or_create_credentials(data_dir: &Path) -> anyhow::Result<(String, SecretString)> {
    // Reuse what an earlier run generated.
    let path = credentials_path(data_dir);
    match std::fs::read(&path) {
        Ok(bytes) => return read_existing(&path, &bytes),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => {
            return Err(err).with_context(|| format!("failed to read {}", path.display()));
        }
    }

    // Generate a key shaped like an AWS one.
    let access_key_id = format!("CFR{}", random_string(17).to_ascii_uppercase());
    let secret = random_string(40);
    let stored = StoredCredentials {
        access_key_id: access_key_id.clone(),
        secret_access_key: secret,
    };
    let bytes = serde_json::to_vec_pretty(&stored).context("failed to encode credentials")?;

    // Write with owner-only permissions from the first byte, then move into
    // place; if another process won the race, use its key.
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("failed to create {}", data_dir.display()))?;
    let tmp = data_dir.join(format!(
        ".{CREDENTIALS_FILE}.{}",
        uuid::Uuid::new_v4().simple()
    ));
    write_private(&tmp, &bytes)?;
    let placed = std::fs::hard_link(&tmp, &path);
    let _ = std::fs::remove_file(&tmp);
    std::fs::File::open(data_dir)
        .and_then(|dir| dir.sync_all())
        .with_context(|| format!("failed to sync {}", data_dir.display()))?;
    match placed {
        Ok(()) => {
            tracing::info!(s3.access_key_id = %access_key_id, path = %path.display(), "generated credentials for the embedded S3 endpoint");
            Ok((access_key_id, SecretString::from(stored.secret_access_key)))
        }
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            let bytes = std::fs::read(&path)
                .with_context(|| format!("failed to read {}", path.display()))?;
            read_existing(&path, &bytes)
        }
        Err(err) => Err(err).with_context(|| format!("failed to create {}", path.display())),
    }
}

/// Parses a stored key and tightens a file someone made readable to others.
fn read_existing(path: &Path, bytes: &[u8]) -> anyhow::Result<(String, SecretString)> {
    let stored: StoredCredentials = serde_json::from_slice(bytes)
        .with_context(|| format!("{} is not a valid credentials file", path.display()))?;
    if stored.access_key_id.is_empty() || stored.secret_access_key.is_empty() {
        anyhow::bail!("{} has an empty access key or secret", path.display());
    }
    let mode = std::fs::metadata(path)
        .with_context(|| format!("failed to inspect {}", path.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        tracing::warn!(path = %path.display(), "credentials file was readable by others; restricting it to its owner");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("failed to restrict {}", path.display()))?;
    }
    Ok((
        stored.access_key_id,
        SecretString::from(stored.secret_access_key),
    ))
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("failed to create {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("failed to write {}", path.display()))
}

fn random_string(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret as _;

    #[test]
    fn first_run_generates_a_private_key_and_later_runs_reuse_it() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let (first_id, first_secret) = load_or_create_credentials(dir.path())?;
        let (second_id, second_secret) = load_or_create_credentials(dir.path())?;
        assert_eq!(first_id, second_id);
        assert_eq!(first_secret.expose_secret(), second_secret.expose_secret());
        assert_eq!(first_id.len(), 20);
        assert_eq!(first_secret.expose_secret().len(), 40);
        let mode = std::fs::metadata(credentials_path(dir.path()))?
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        Ok(())
    }

    #[test]
    fn a_file_readable_by_others_is_restricted_on_load() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        load_or_create_credentials(dir.path())?;
        let path = credentials_path(dir.path());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
        load_or_create_credentials(dir.path())?;
        let mode = std::fs::metadata(&path)?.permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        Ok(())
    }

    #[test]
    fn a_corrupt_file_is_an_error_not_a_new_key() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        std::fs::write(credentials_path(dir.path()), b"{not json")?;
        assert!(load_or_create_credentials(dir.path()).is_err());
        Ok(())
    }
}
