//! `pageshare unlock-url`: a ready `?unlock=` URL, so nobody needs a website to mint a token.
//! The secret comes from `PAGESHARE_UNLOCK_SECRET` or stdin, never echoed; `--secret HEX` still
//! works, with a warning (it shows in `ps` and shell history). With `--key FILE` the token is
//! signed with a private key instead, named by `--kid` or its thumbprint.

use std::io::{IsTerminal, Read};

use anyhow::{Context, bail};

use super::UnlockUrlArgs;
use super::private_key::PrivateKey;
use crate::config::{self, env_var};
use crate::share::unlock::{MAX_LIFETIME_SECS, mint_unlock_token};
use crate::share::unlock_key::{MAX_KID_LEN, kid_is_valid};
use crate::share::{ShareId, UnlockSecret};

const SECRET_VARIABLE: &str = "PAGESHARE_UNLOCK_SECRET";

pub fn run(args: UnlockUrlArgs) -> anyhow::Result<()> {
    let base_url = match &args.base_url {
        Some(url) => config::base_url_argument(url)?,
        None => config::base_url(&env_var)?,
    };
    let now = chrono::Utc::now().timestamp();
    let url = match &args.key {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("--key: cannot read {}", file.display()))?;
            let key = PrivateKey::parse(&text)?;
            let kid = args.kid.clone().unwrap_or_else(|| key.default_kid());
            // The rule Pageshare holds a registered key's kid to: another kid names no key.
            if !kid_is_valid(&kid) {
                bail!(
                    "--kid must be 1 to {MAX_KID_LEN} characters of letters, digits and . _ ~ - : @ + =, as a registered key's kid is"
                );
            }
            unlock_url(&base_url, &args.share, args.ttl, |share| {
                key.mint(share, &kid, now, args.ttl)
            })?
        }
        None => {
            let (hex, source) = secret(args.secret.as_deref())?;
            // The secret is never echoed back, not even in an error.
            let secret = UnlockSecret::from_hex(&hex).with_context(|| {
                format!("{source} must be the share's unlock secret: 64 hex digits")
            })?;
            unlock_url(&base_url, &args.share, args.ttl, |share| {
                mint_unlock_token(share, &secret, now, args.ttl)
            })?
        }
    };
    println!("{url}");
    Ok(())
}

/// The unlock secret as given, and where it came from (to name in an error).
fn secret(argument: Option<&str>) -> anyhow::Result<(String, &'static str)> {
    match argument {
        Some("-") => Ok((read_stdin()?, "the secret on stdin")),
        Some(hex) => {
            eprintln!(
                "pageshare: warning: --secret with the secret itself shows it in the process list \
                 and shell history; set {SECRET_VARIABLE} or pass --secret - and write it to stdin"
            );
            Ok((hex.to_owned(), "--secret"))
        }
        None => env_var(SECRET_VARIABLE)
            .map(|hex| (hex, SECRET_VARIABLE))
            .with_context(|| {
                format!(
                    "no unlock secret: set {SECRET_VARIABLE} (as the share panel's snippets do) or pass --secret - and write it to stdin"
                )
            }),
    }
}

fn read_stdin() -> anyhow::Result<String> {
    let mut stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("unlock secret (64 hex digits): ");
    }
    let mut text = String::new();
    stdin
        .read_to_string(&mut text)
        .context("cannot read the unlock secret from stdin")?;
    let secret = text.trim();
    if secret.is_empty() {
        bail!("--secret -: nothing on stdin; write the share's unlock secret to it");
    }
    Ok(secret.to_owned())
}

/// `{base_url}/content/{share}?unlock=…`, with the token `mint` makes for the share (valid `ttl`
/// seconds, checked here).
pub fn unlock_url(
    base_url: &str,
    share: &str,
    ttl: i64,
    mint: impl FnOnce(ShareId) -> String,
) -> anyhow::Result<String> {
    let share =
        ShareId::parse(share).context("--share must be a share uuid (as in /content/{uuid})")?;
    if !(1..=MAX_LIFETIME_SECS as i64).contains(&ttl) {
        bail!("--ttl must be between 1 and {MAX_LIFETIME_SECS} seconds");
    }
    let token = mint(share);
    Ok(format!(
        "{}?unlock={token}",
        share.page_url(base_url.trim_end_matches('/'))
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::share::unlock::verify_unlock;

    #[test]
    fn prints_a_url_whose_token_unlocks_the_share() {
        let share = ShareId::new();
        let secret = UnlockSecret::generate();
        let url = unlock_url(
            "https://pages.example.com/",
            &share.to_string(),
            30,
            |share| mint_unlock_token(share, &secret, 1_000, 30),
        )
        .unwrap();
        let (path, token) = url.split_once("?unlock=").unwrap();
        assert_eq!(path, format!("https://pages.example.com/content/{share}"));
        assert_eq!(verify_unlock(token, share, &secret, 1_029, 0), Ok(()));
        assert!(verify_unlock(token, share, &secret, 1_030, 0).is_err());
    }

    #[test]
    fn refuses_a_bad_share_or_ttl() {
        let share = ShareId::new().to_string();
        let secret = UnlockSecret::generate();
        let cases = [
            ("not-a-uuid", 60),
            (share.as_str(), 61),
            (share.as_str(), 0),
        ];
        for (share, ttl) in cases {
            let refused = unlock_url("http://localhost:8080", share, ttl, |share| {
                mint_unlock_token(share, &secret, 0, ttl)
            });
            assert!(refused.is_err(), "{share} {ttl}");
        }
    }
}
