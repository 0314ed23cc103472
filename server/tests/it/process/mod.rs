//! The real `coffer-server` binary, run as a child process: what only a
//! whole process shows, such as its exit code, its answer to SIGTERM, its
//! `--help`, settings read from the environment and every line it prints.
//!
//! Each child gets a free loopback port, its own data folder and an
//! environment holding nothing but what the test chose, so a developer's
//! `RUST_LOG`, `COFFER_*` or `~/.aws` cannot change what a test sees.

mod cli;
mod lambda;
mod logs;
mod s3_storage;

use std::io::{BufRead as _, BufReader, Read, Write as _};
use std::net::TcpListener;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, LazyLock, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rsa::RsaPrivateKey;
use rsa::pkcs1::{EncodeRsaPrivateKey as _, LineEnding};

use crate::support::Portal;

/// The binary under test, built by Cargo for this test run.
pub const BINARY: &str = env!("CARGO_BIN_EXE_coffer-server");

/// How long a server may take to answer `/readyz`. Unoptimised builds on
/// two busy cores are slow to start.
const READY_WITHIN: Duration = Duration::from_secs(90);

/// How long `Drop` lets a server stop on SIGTERM before killing it.
const STOP_WITHIN: Duration = Duration::from_secs(10);

/// A free loopback port. Another process could take it before the child
/// binds it, as with any port handed to a child; that race is rare enough.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// What to start: the settings every test needs, plus its own.
#[derive(Debug)]
pub struct Launch {
    port: u16,
    data_dir: PathBuf,
    s3_listen: String,
    args: Vec<String>,
    envs: Vec<(String, String)>,
}

impl Launch {
    /// A server on a free loopback port, keeping its data in `data_dir`,
    /// with the embedded S3 endpoint on a port of its choosing.
    pub fn new(data_dir: &Path) -> Launch {
        Launch {
            port: free_port(),
            data_dir: data_dir.to_path_buf(),
            s3_listen: "127.0.0.1:0".to_owned(),
            args: Vec::new(),
            envs: Vec::new(),
        }
    }

    /// Puts the embedded S3 endpoint on a known address, for tests that
    /// call it themselves.
    pub fn s3_listen(mut self, addr: &str) -> Launch {
        self.s3_listen = addr.to_owned();
        self
    }

    /// Adds command-line arguments.
    pub fn args(mut self, args: &[&str]) -> Launch {
        self.args.extend(args.iter().map(|arg| (*arg).to_owned()));
        self
    }

    /// Sets one environment variable of the child.
    pub fn env(mut self, key: &str, value: &str) -> Launch {
        self.envs.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Starts the child without waiting for it to be ready.
    pub fn spawn(self) -> ServerProcess {
        // The development provider's signing key, made once per test run
        // rather than once per child.
        seed_signing_key(&self.data_dir);

        // Standard settings first, then the test's own.
        let url = format!("http://127.0.0.1:{}", self.port);
        let mut command = Command::new(BINARY);
        command
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--public-url")
            .arg(&url)
            .arg("--s3-listen")
            .arg(&self.s3_listen)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--site-dir")
            .arg(self.data_dir.join("no-site"))
            .args(&self.args);

        // An environment of the test's choosing only. AWS files and the
        // instance metadata service are pointed at nothing, so the SDK's
        // default chain sees exactly the variables the test set.
        let missing = self.data_dir.join("no-such-aws-file");
        command
            .env_clear()
            .env("HOME", &self.data_dir)
            .env("AWS_CONFIG_FILE", &missing)
            .env("AWS_SHARED_CREDENTIALS_FILE", &missing)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .envs(self.envs.iter().map(|(key, value)| (key, value)));

        // Both streams land in one buffer, a whole line at a time.
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("coffer-server starts");
        // Standard output alone is kept too: it is where logs go.
        let output = Arc::new(Mutex::new(Vec::new()));
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let readers = vec![
            collect_lines(stdout, vec![Arc::clone(&output), Arc::clone(&logs)]),
            collect_lines(stderr, vec![Arc::clone(&output)]),
        ];
        ServerProcess {
            url,
            child,
            output,
            logs,
            readers,
        }
    }

    /// Starts the child and waits until `/readyz` says it is ready.
    pub async fn start(self) -> ServerProcess {
        let mut server = self.spawn();
        server.wait_ready().await;
        server
    }
}

/// A running (or exited) `coffer-server`; dropping it stops the process.
#[derive(Debug)]
pub struct ServerProcess {
    pub url: String,
    child: Child,
    output: Arc<Mutex<Vec<u8>>>,
    logs: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
}

impl ServerProcess {
    /// Everything printed so far, on stdout or stderr, without colours.
    pub fn output(&self) -> String {
        let bytes = self.output.lock().expect("output lock").clone();
        strip_ansi(&String::from_utf8_lossy(&bytes))
    }

    /// What was printed on stdout, where the log lines go. Stderr may also
    /// carry what libraries print directly (Leptos's debug-build
    /// diagnostics), which is not a log line.
    pub fn logs(&self) -> String {
        let bytes = self.logs.lock().expect("logs lock").clone();
        strip_ansi(&String::from_utf8_lossy(&bytes))
    }

    /// Polls `/readyz` until it answers 200; fails the test, with the
    /// output, if the process exits or takes too long.
    pub async fn wait_ready(&mut self) {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("HTTP client");
        let deadline = Instant::now() + READY_WITHIN;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("child status") {
                self.join_readers();
                panic!(
                    "coffer-server exited ({status}) before it was ready:\n{}",
                    self.output()
                );
            }
            let ready = http.get(self.at("/readyz")).send().await;
            if ready.is_ok_and(|answer| answer.status().is_success()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "coffer-server was not ready within {READY_WITHIN:?}:\n{}",
            self.output()
        );
    }

    /// Waits up to `within` for the process to exit by itself; once it
    /// has, its output is complete.
    pub async fn wait_for_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("child status") {
                self.join_readers();
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends SIGTERM, as a container runtime does, and waits up to
    /// `within` for the process to exit.
    pub async fn terminate(&mut self, within: Duration) -> Option<ExitStatus> {
        send_sigterm(self.child.id());
        self.wait_for_exit(within).await
    }

    /// The readers end when the child's pipes close, that is at its exit.
    fn join_readers(&mut self) {
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }
}

impl Portal for ServerProcess {
    fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // A clean stop first, so the data folder is left as an operator
        // would find it; a kill only if that hangs.
        if matches!(self.child.try_wait(), Ok(None)) {
            send_sigterm(self.child.id());
            let deadline = Instant::now() + STOP_WITHIN;
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        self.join_readers();
    }
}

/// Asks a process to stop, through the `kill` command (the workspace
/// forbids the unsafe code a direct `kill(2)` call needs).
fn send_sigterm(pid: u32) {
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Copies a stream into each of `outputs` line by line, so lines of
/// stdout and stderr never interleave mid-line.
fn collect_lines(
    stream: impl Read + Send + 'static,
    outputs: Vec<Arc<Mutex<Vec<u8>>>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    for output in &outputs {
                        output.lock().expect("output lock").extend_from_slice(&line);
                    }
                }
            }
        }
    })
}

/// Removes terminal colour sequences (`ESC [ ... letter`).
fn strip_ansi(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for end in chars.by_ref() {
                if end.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

/// A 2048-bit RSA key in PKCS#1 PEM, generated once per test run: an
/// unoptimised build takes many seconds per key, and every child would
/// otherwise make its own.
static SIGNING_KEY: LazyLock<String> = LazyLock::new(|| {
    let key = RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).expect("RSA key");
    key.to_pkcs1_pem(LineEnding::LF)
        .expect("PEM encoding")
        .to_string()
});

/// Puts the shared signing key where the development provider looks for
/// it, with the private modes the provider itself would use.
fn seed_signing_key(data_dir: &Path) {
    let dir = data_dir.join("dev-idp");
    let path = dir.join("signing-key.pem");
    if path.exists() {
        return;
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .expect("dev-idp folder");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .expect("signing key file");
    file.write_all(SIGNING_KEY.as_bytes())
        .expect("signing key written");
}
