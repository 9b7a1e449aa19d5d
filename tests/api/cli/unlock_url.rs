//! `pageshare unlock-url`: the secret from the environment or stdin (never from a command line
//! that `ps` shows, unless the user insists, warned), and a clear word on a bad `--ttl`.

use pageshare::share::unlock::verify_unlock;
use pageshare::share::{ShareId, UnlockSecret};

use super::{Run, pageshare};

const WARNING: &str = "pageshare: warning: --secret with the secret itself shows it";

/// How a case gives the secret.
struct Given<'a> {
    case: &'a str,
    args: Vec<&'a str>,
    /// `PAGESHARE_UNLOCK_SECRET`
    variable: Option<&'a str>,
    stdin: Option<String>,
}

/// `PAGESHARE_UNLOCK_SECRET`, when set.
fn secret_variable(value: Option<&str>) -> Vec<(&str, &str)> {
    value
        .map(|value| ("PAGESHARE_UNLOCK_SECRET", value))
        .into_iter()
        .collect()
}

/// The token of a printed unlock URL.
fn token(run: &Run) -> &str {
    run.stdout
        .trim_end()
        .split_once("?unlock=")
        .unwrap_or_else(|| panic!("an unlock URL: {run:?}"))
        .1
}

#[test]
fn the_secret_comes_from_the_environment_or_stdin() {
    let share = ShareId::new();
    let secret = UnlockSecret::generate();
    let hex = secret.to_hex();
    let uuid = share.to_string();
    let uuid = uuid.as_str();
    let plain = vec!["unlock-url", "--share", uuid];
    let from_stdin = vec!["unlock-url", "--share", uuid, "--secret", "-"];
    let from_argument = vec!["unlock-url", "--share", uuid, "--secret", hex.as_str()];
    let cases = [
        Given {
            case: "environment",
            args: plain,
            variable: Some(&hex),
            stdin: None,
        },
        Given {
            case: "stdin",
            args: from_stdin.clone(),
            variable: None,
            stdin: Some(format!("{hex}\n")),
        },
        Given {
            case: "stdin over the environment",
            args: from_stdin,
            variable: Some("abcd"),
            stdin: Some(hex.clone()),
        },
        Given {
            case: "argument",
            args: from_argument,
            variable: None,
            stdin: None,
        },
    ];
    let now = chrono::Utc::now().timestamp();
    for Given {
        case,
        args,
        variable,
        stdin,
    } in cases
    {
        let run = pageshare(&args, &secret_variable(variable), stdin.as_deref());
        let warned = args.contains(&hex.as_str());
        assert_eq!(run.code, Some(0), "{case}: {run:?}");
        assert!(
            run.stdout
                .starts_with(&format!("http://localhost:8080/content/{share}?unlock=")),
            "{case}: {run:?}"
        );
        assert_eq!(
            verify_unlock(token(&run), share, &secret, now + 1, 5),
            Ok(()),
            "{case}"
        );
        assert_eq!(run.stderr.starts_with(WARNING), warned, "{case}: {run:?}");
        assert!(!run.stderr.contains(&hex), "{case}: {run:?}");
    }
}

#[test]
fn a_missing_or_bad_secret_is_named_by_its_source_and_never_echoed() {
    let uuid = ShareId::new().to_string();
    let uuid = uuid.as_str();
    let bad = "0123456789abcdef-not-a-secret";
    let with = |secret: &'static str| vec!["unlock-url", "--share", uuid, "--secret", secret];
    let no_secret = vec!["unlock-url", "--share", uuid];
    // (how the secret is given, what stderr says)
    let cases = [
        (
            Given {
                case: "nowhere",
                args: no_secret.clone(),
                variable: None,
                stdin: None,
            },
            "no unlock secret: set PAGESHARE_UNLOCK_SECRET",
        ),
        (
            Given {
                case: "environment",
                args: no_secret,
                variable: Some(bad),
                stdin: None,
            },
            "PAGESHARE_UNLOCK_SECRET must be the share's unlock secret",
        ),
        (
            Given {
                case: "stdin",
                args: with("-"),
                variable: None,
                stdin: Some(bad.to_owned()),
            },
            "the secret on stdin must be the share's unlock secret",
        ),
        (
            Given {
                case: "empty stdin",
                args: with("-"),
                variable: None,
                stdin: Some(String::new()),
            },
            "--secret -: nothing on stdin",
        ),
        (
            Given {
                case: "argument",
                args: with(bad),
                variable: None,
                stdin: None,
            },
            "--secret must be the share's unlock secret",
        ),
    ];
    for (given, problem) in cases {
        let env = secret_variable(given.variable);
        let run = pageshare(&given.args, &env, given.stdin.as_deref());
        assert_eq!(run.code, Some(1), "{}: {run:?}", given.case);
        assert!(run.stdout.is_empty(), "{run:?}");
        assert!(
            run.stderr.contains(&format!("pageshare: {problem}")),
            "{run:?}"
        );
        assert!(!run.stderr.contains(bad), "the secret was echoed: {run:?}");
    }
}

#[test]
fn a_ttl_out_of_range_is_a_usage_error_that_says_the_range() {
    let uuid = ShareId::new().to_string();
    let hex = UnlockSecret::generate().to_hex();
    for ttl in ["-5", "0", "61", "soon"] {
        let args = ["unlock-url", "--share", uuid.as_str(), "--ttl", ttl];
        let run = pageshare(&args, &[("PAGESHARE_UNLOCK_SECRET", &hex)], None);
        assert_eq!(run.code, Some(2), "--ttl {ttl}: {run:?}");
        assert!(
            run.stderr
                .starts_with(&format!("error: invalid value '{ttl}' for '--ttl <TTL>'")),
            "--ttl {ttl}: {run:?}"
        );
    }
    let run = pageshare(&["unlock-url", "--help"], &[], None);
    assert!(
        run.stdout.contains("Seconds the token is valid (1 to 60)"),
        "{run:?}"
    );
}
