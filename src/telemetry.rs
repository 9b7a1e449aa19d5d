//! Logging with `tracing`, filtered by `RUST_LOG` (default `info`), always on stderr: stdout
//! carries only what a command prints for its user (`pageshare secrets status --json | jq`).
//! Text by default, colours only when stderr is a terminal; one JSON object per line with
//! `PAGESHARE_LOG_FORMAT=json` (`docs/CONFIGURATION.md`).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{ConfigError, invalid};

/// `PAGESHARE_LOG_FORMAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    /// For log shippers: one object per line, the event's fields at the top level.
    Json,
}

impl LogFormat {
    /// `PAGESHARE_LOG_FORMAT`: `text` (the default) or `json`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        match get("PAGESHARE_LOG_FORMAT")
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("text") => Ok(Self::Text),
            Some("json") => Ok(Self::Json),
            Some(_) => Err(invalid("PAGESHARE_LOG_FORMAT", "must be text or json")),
        }
    }
}

pub fn init(format: LogFormat) {
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_target(false)
        .with_writer(std::io::stderr);
    // A second init (tests) is harmless.
    let _ = match format {
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).try_init(),
        LogFormat::Json => logs.json().flatten_event(true).with_ansi(false).try_init(),
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_format_is_text_or_json_and_nothing_else() {
        let format = |value: Option<&str>| LogFormat::from_lookup(|_| value.map(str::to_owned));
        assert_eq!(format(None).unwrap(), LogFormat::Text);
        assert_eq!(format(Some("text")).unwrap(), LogFormat::Text);
        assert_eq!(format(Some("JSON")).unwrap(), LogFormat::Json);
        for bad in ["yaml", "json,text", "1"] {
            let error = format(Some(bad)).unwrap_err();
            assert_eq!(error.name, "PAGESHARE_LOG_FORMAT");
            assert_eq!(
                error.to_string(),
                "PAGESHARE_LOG_FORMAT: must be text or json"
            );
        }
    }
}
