//! Logging with `tracing`, filtered by `RUST_LOG` (default `info`), always on stderr: stdout
//! carries only what a command prints for its user (`pageshare secrets status --json | jq`).
//! Colours only when stderr is a terminal.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub fn init() {
    // A second init (tests) is harmless.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}

/// `RUST_LOG`, or `info` when it is unset, empty or does not parse (said on stderr: there is
/// no log yet to say it in).
fn filter() -> EnvFilter {
    let parsed = match std::env::var("RUST_LOG") {
        Err(std::env::VarError::NotPresent) => return EnvFilter::new("info"),
        Err(std::env::VarError::NotUnicode(_)) => Err("not valid UTF-8".to_owned()),
        Ok(spec) if spec.trim().is_empty() => return EnvFilter::new("info"),
        Ok(spec) => EnvFilter::try_new(&spec).map_err(|e| e.to_string()),
    };
    parsed.unwrap_or_else(|problem| {
        eprintln!("pageshare: warning: RUST_LOG: {problem}; logging at info instead");
        EnvFilter::new("info")
    })
}
