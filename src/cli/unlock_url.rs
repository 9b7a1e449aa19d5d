//! `pageshare unlock-url`: a ready `?unlock=` URL, so nobody needs a website to mint a token.

use anyhow::{Context, bail};

use crate::share::unlock::{MAX_LIFETIME_SECS, mint_unlock_token};
use crate::share::{ShareId, UnlockSecret};

pub fn unlock_url(
    base_url: &str,
    share: &str,
    secret_hex: &str,
    ttl: i64,
    now: i64,
) -> anyhow::Result<String> {
    let share =
        ShareId::parse(share).context("--share must be a share uuid (as in /content/{uuid})")?;
    // The secret is never echoed back, not even in an error.
    let secret = UnlockSecret::from_hex(secret_hex)
        .context("--secret must be the share's unlock secret: 64 hex digits")?;
    if !(1..=MAX_LIFETIME_SECS as i64).contains(&ttl) {
        bail!("--ttl must be between 1 and {MAX_LIFETIME_SECS} seconds");
    }
    let token = mint_unlock_token(share, &secret, now, ttl);
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
            &secret.to_hex(),
            30,
            1_000,
        )
        .unwrap();
        let (path, token) = url.split_once("?unlock=").unwrap();
        assert_eq!(path, format!("https://pages.example.com/content/{share}"));
        assert_eq!(verify_unlock(token, share, &secret, 1_029, 0), Ok(()));
        assert!(verify_unlock(token, share, &secret, 1_030, 0).is_err());
    }

    #[test]
    fn refuses_bad_arguments_without_echoing_the_secret() {
        let share = ShareId::new().to_string();
        let secret = UnlockSecret::generate().to_hex();
        let short_secret = &secret[..40];
        let cases = [
            ("not-a-uuid", secret.as_str(), 60),
            (share.as_str(), short_secret, 60),
            (share.as_str(), secret.as_str(), 61),
            (share.as_str(), secret.as_str(), 0),
        ];
        for (share, secret, ttl) in cases {
            let error = unlock_url("http://localhost:8080", share, secret, ttl, 0).unwrap_err();
            assert!(!format!("{error:#}").contains(short_secret));
        }
    }
}
