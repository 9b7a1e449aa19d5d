//! The `pageshare` binary as an operator runs it: each command's stdout, stderr and exit code,
//! with good and bad settings (`docs/CONFIGURATION.md`).

mod base_path;
mod database;
mod dev;
mod secrets;
mod settings;
mod unlock_url;

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::migrate::MigrateDatabase;

/// What a finished command said and returned.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// The binary with `args` and, of the settings, only those of `env` (none is inherited).
pub fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pageshare"));
    command.args(args);
    for (name, _) in std::env::vars() {
        let setting = name == "DATABASE_URL"
            || name == "RUST_LOG"
            || name.starts_with("PAGESHARE_")
            || name.starts_with("PG");
        if setting {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().copied());
    command
}

/// Run the binary to its end (at most a minute), with `stdin` written to it.
pub fn pageshare(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Run {
    let mut child = command(args, env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut input = child.stdin.take().unwrap();
    input
        .write_all(stdin.unwrap_or_default().as_bytes())
        .unwrap();
    drop(input);
    let stdout = read_all(child.stdout.take().unwrap());
    let stderr = read_all(child.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("`pageshare {}` still runs after a minute", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: status.code(),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// All `pipe` says, read on a thread of its own.
fn read_all(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        pipe.read_to_string(&mut text).unwrap();
        text
    })
}

/// A database name on the test server that nobody uses yet; it and its `pageshare dev`
/// sibling (`_dev`) are dropped at the end.
pub struct Database {
    pub url: String,
}

impl Database {
    pub fn unused() -> Self {
        Self {
            url: crate::helpers::fresh_database_url(),
        }
    }

    /// The URL `pageshare dev` uses with this `DATABASE_URL`.
    pub fn dev_url(&self) -> String {
        format!("{}_dev", self.url)
    }

    pub fn name(&self) -> &str {
        self.url.rsplit_once('/').unwrap().1
    }

    pub async fn exists(&self) -> bool {
        database_exists(&self.url).await
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let urls = [self.url.clone(), self.dev_url()];
        // Drop runs inside the test's runtime: clean up on a thread with its own.
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    for url in urls {
                        let _ = sqlx::Postgres::force_drop_database(&url).await;
                    }
                })
        })
        .join();
    }
}

pub async fn database_exists(url: &str) -> bool {
    sqlx::Postgres::database_exists(url).await.unwrap()
}

/// A binary left running (`serve`, `dev`), killed when dropped.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port nothing listens on (bound, then let go).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
