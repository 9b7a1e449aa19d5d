//! Logging with `tracing`, filtered by `RUST_LOG` (default `info`), always on stderr: stdout
//! carries only what a command prints for its user (`pageshare secrets status --json | jq`).

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A second init (tests) is harmless.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .try_init();
}
