//! `pageshare unlock-url`: the secret from the environment or stdin (never from a command line
//! that `ps` shows, unless the user insists, warned), a clear word on a bad `--ttl`, and URLs
//! signed with a private key (`--key FILE [--kid KID]`).

use pageshare::share::unlock::verify_unlock;
use pageshare::share::{ShareId, UnlockSecret};

use super::{Run, pageshare};
use crate::helpers::EDITOR;
use crate::test_keys::TestKey;

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

/// Write `text` to a fresh file; its path.
fn key_file(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// The URL `unlock-url --key FILE [--kid KID]` prints unlocks the share over HTTP once the key's
/// public half is registered: each key type, as PKCS#8 PEM and as a private JWK, with the
/// default kid (the thumbprint) or the one given.
#[tokio::test]
async fn a_url_signed_with_a_private_key_unlocks_the_share_with_its_public_key() {
    let app = crate::helpers::spawn_app().await;
    let site = app.site_with_page("acme").await;
    let share = app.protected_share(&site).await;
    let dir = std::env::temp_dir().join(format!("pageshare-cli-keys-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let uuid = share.id.to_string();
    let keys_path = format!("/api/shares/{uuid}/unlock-keys");
    let register = async |jwk: serde_json::Value| {
        let body = serde_json::json!({"jwk": jwk});
        let added = app
            .api(&site, EDITOR, reqwest::Method::POST, &keys_path, Some(body))
            .await;
        assert_eq!(added.status(), 201);
    };
    let keys = [TestKey::ed25519(), TestKey::p256(), TestKey::rsa(2048)];
    for (i, key) in keys.iter().enumerate() {
        register(key.public_jwk()).await;
        let mut named = key.public_jwk();
        named["kid"] = format!("named-{i}").into();
        register(named).await;
        let pem = key_file(&dir, &format!("{i}.pem"), &key.pkcs8_pem());
        let jwk = key_file(&dir, &format!("{i}.json"), &key.private_jwk().to_string());
        let named_kid = format!("named-{i}");
        let cases: [(&str, Vec<&str>, u16); 4] = [
            ("PEM, thumbprint kid", vec!["--key", &pem], 200),
            ("private JWK, thumbprint kid", vec!["--key", &jwk], 200),
            ("PEM, --kid", vec!["--key", &pem, "--kid", &named_kid], 200),
            (
                "PEM, unregistered --kid",
                vec!["--key", &pem, "--kid", "nobody"],
                401,
            ),
        ];
        for (case, key_args, status) in cases {
            let mut args = vec!["unlock-url", "--share", &uuid, "--base-url", &app.address];
            args.extend(key_args);
            let run = pageshare(&args, &[], None);
            assert_eq!(run.code, Some(0), "{} {case}: {run:?}", key.alg_name());
            let url = run.stdout.trim();
            assert!(url.starts_with(&share.url), "{url}");
            assert_eq!(
                app.read_share(url, None).await.status(),
                status,
                "{} {case}",
                key.alg_name()
            );
        }
    }

    let public = key_file(&dir, "public.json", &keys[0].public_jwk().to_string());
    let rsa_1024 = key_file(&dir, "small.pem", &TestKey::rsa(1024).pkcs8_pem());
    let rsa_4104 = key_file(&dir, "large.pem", &TestKey::rsa(4104).pkcs8_pem());
    let pem = key_file(&dir, "kid.pem", &keys[0].pkcs8_pem());
    let long_kid = "k".repeat(129);
    let kid_rule = "--kid must be 1 to 128 characters";
    let refused: [(&str, Vec<&str>, i32, &str); 10] = [
        (
            "a public JWK",
            vec!["--key", &public],
            1,
            "no private member `d`",
        ),
        (
            "a 1024-bit RSA key",
            vec!["--key", &rsa_1024],
            1,
            "1024 bits",
        ),
        (
            "a 4104-bit RSA key",
            vec!["--key", &rsa_4104],
            1,
            "4104 bits; Pageshare takes 2048 to 4096",
        ),
        (
            "an empty --kid",
            vec!["--key", &pem, "--kid", ""],
            1,
            kid_rule,
        ),
        (
            "a --kid with a space",
            vec!["--key", &pem, "--kid", "my key"],
            1,
            kid_rule,
        ),
        (
            "a --kid with a slash",
            vec!["--key", &pem, "--kid", "a/b"],
            1,
            kid_rule,
        ),
        (
            "a 129-character --kid",
            vec!["--key", &pem, "--kid", &long_kid],
            1,
            kid_rule,
        ),
        (
            "no such file",
            vec!["--key", "/nonexistent/key.pem"],
            1,
            "--key: cannot read",
        ),
        (
            "--key with --secret",
            vec!["--key", &public, "--secret", "-"],
            2,
            "cannot be used with",
        ),
        ("--kid without --key", vec!["--kid", "k"], 2, "--key <FILE>"),
    ];
    for (case, key_args, code, says) in refused {
        let mut args = vec!["unlock-url", "--share", &uuid, "--base-url", &app.address];
        args.extend(key_args);
        let run = pageshare(
            &args,
            &[("PAGESHARE_UNLOCK_SECRET", &share.secret.to_hex())],
            None,
        );
        assert_eq!(run.code, Some(code), "{case}: {run:?}");
        assert!(run.stderr.contains(says), "{case}: {run:?}");
        assert!(run.stdout.is_empty(), "{case}: {run:?}");
    }
    // The edges that are still accepted.
    let edge_kid = format!("{}._~-:@+=", "k".repeat(119));
    let rsa_4096 = key_file(&dir, "largest.pem", &TestKey::rsa(4096).pkcs8_pem());
    let accepted = [
        (
            "a 128-character --kid of every allowed sign",
            vec!["--key", &pem, "--kid", &edge_kid],
        ),
        ("a 4096-bit RSA key", vec!["--key", &rsa_4096]),
    ];
    for (case, key_args) in accepted {
        let mut args = vec!["unlock-url", "--share", &uuid, "--base-url", &app.address];
        args.extend(key_args);
        let run = pageshare(&args, &[], None);
        assert_eq!(run.code, Some(0), "{case}: {run:?}");
        assert!(run.stdout.starts_with(&share.url), "{case}: {run:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
