//! The provider's files under `data_dir/dev-idp/`: the signing key and the
//! client secrets, readable by their owner only.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use anyhow::{Context, ensure};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use secrecy::SecretString;

/// Creates the provider's folder, readable by its owner only.
pub(super) fn ensure_private_dir(dir: &Path) -> anyhow::Result<()> {
    // Create it and its parents in one go.
    fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;

    // Narrow an existing folder too, since it holds a private key.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("failed to restrict {}", dir.display()))?;
    }
    Ok(())
}

/// Reads the client secret kept in `dir/name`, generating it on first use.
pub(super) fn load_or_create_secret(dir: &Path, name: &str) -> anyhow::Result<SecretString> {
    // 256 random bits, URL-safe so that it needs no encoding in a form or a
    // Basic header.
    let path = dir.join(name);
    let fresh = || {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    };

    // Whoever creates the file first decides the secret.
    let text = read_or_create_private(&path, fresh)?;
    let secret = text.trim().to_owned();
    ensure!(
        secret.len() >= 32,
        "the client secret in {} is shorter than 32 characters",
        path.display()
    );
    Ok(SecretString::from(secret))
}

/// Returns the contents of `path`, first writing what `fresh` makes when the
/// file does not exist yet. The file is created with mode 0600 and appears
/// whole or not at all.
pub(super) fn read_or_create_private(
    path: &Path,
    fresh: impl FnOnce() -> anyhow::Result<String>,
) -> anyhow::Result<String> {
    // Make new contents only when needed: a key takes a while to generate.
    if !path.exists() {
        let contents = fresh()?;

        // Publish a complete file under its final name in one step; if
        // another process got there first, its file wins.
        match create_private(path, contents.as_bytes()) {
            Ok(()) => {
                tracing::info!(file.path = %path.display(), "created development provider file");
                return Ok(contents);
            }
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
            Err(err) => {
                return Err(err).with_context(|| format!("failed to create {}", path.display()));
            }
        }
    }

    // Someone may have loosened the mode since; a key stays private.
    restrict_to_owner(path)?;
    fs::read_to_string(path).with_context(|| format!("failed to read {}", path.display()))
}

/// Writes `contents` to a private temporary file, then links it under
/// `path`; the link fails with `AlreadyExists` if `path` exists, so two
/// processes starting at once agree on one file.
fn create_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    // The temporary name is unique, so this process owns it.
    let file_name = path
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("file");
    let tmp = path.with_file_name(format!(".{file_name}.{}.tmp", uuid::Uuid::new_v4()));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(&tmp).and_then(|mut file| {
        file.write_all(contents)?;
        file.sync_all()
    });

    // Link, then drop the temporary name whatever happened.
    let linked = written.and_then(|()| fs::hard_link(&tmp, path));
    let _ = fs::remove_file(&tmp);
    linked
}

/// Narrows a private file to mode 0600 if it is wider, with a warning.
fn restrict_to_owner(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path)
            .with_context(|| format!("failed to inspect {}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                file.path = %path.display(),
                file.mode = format!("{:o}", mode & 0o777),
                "development provider file was readable by others; narrowing it to 0600"
            );
            fs::set_permissions(path, fs::Permissions::from_mode(0o600))
                .with_context(|| format!("failed to restrict {}", path.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_created_once_and_read_back_afterwards() {
        let dir = tempfile::tempdir().expect("temp dir");

        let first = load_or_create_secret(dir.path(), "secret").expect("created");
        let second = load_or_create_secret(dir.path(), "secret").expect("read back");

        use secrecy::ExposeSecret;
        assert_eq!(first.expose_secret(), second.expose_secret());
        assert!(first.expose_secret().len() >= 43);
    }

    #[cfg(unix)]
    #[test]
    fn private_files_are_readable_by_their_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("key.pem");

        read_or_create_private(&path, || Ok("contents".to_owned())).expect("created");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("loosened");
        let text = read_or_create_private(&path, || Ok("other".to_owned())).expect("read back");

        let mode = fs::metadata(&path).expect("metadata").permissions().mode();
        assert_eq!(text, "contents");
        assert_eq!(mode & 0o777, 0o600);
    }
}
