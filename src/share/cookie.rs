//! The share cookie, signed attachment URLs and password form tokens: values bound to one share,
//! signed with the cookie key, expiring.
//!
//! A cookie is bound to the share's password version, so changing the password ends every
//! session at once; revoking the share does too, because a revoked share is never served.

use super::ShareId;
use super::signing::{Purpose, SigningKey};

pub const COOKIE_NAME: &str = "pageshare_session";
/// How long a reader stays unlocked.
pub const COOKIE_TTL_SECS: i64 = 8 * 60 * 60;

/// The cookie value: `{expires}.{password_version}.{tag}` (tag in hex).
pub fn cookie_value(
    key: &SigningKey,
    share: ShareId,
    password_version: i32,
    expires: i64,
) -> String {
    let tag = key.tag(
        Purpose::ShareCookie,
        &[
            share.uuid().as_bytes(),
            &password_version.to_be_bytes(),
            &expires.to_be_bytes(),
        ],
    );
    format!("{expires}.{password_version}.{}", hex::encode(tag))
}

/// Whether `value` is a live cookie of this share at its current password version.
pub fn cookie_is_valid(
    key: &SigningKey,
    share: ShareId,
    password_version: i32,
    value: &str,
    now: i64,
) -> bool {
    let mut parts = value.splitn(3, '.');
    let (Some(expires), Some(version), Some(tag_hex)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Ok(expires), Ok(version)) = (expires.parse::<i64>(), version.parse::<i32>()) else {
        return false;
    };
    let mut tag = [0u8; 32];
    if version != password_version
        || now >= expires
        || hex::decode_to_slice(tag_hex, &mut tag).is_err()
    {
        return false;
    }
    key.verify(
        Purpose::ShareCookie,
        &[
            share.uuid().as_bytes(),
            &version.to_be_bytes(),
            &expires.to_be_bytes(),
        ],
        &tag,
    )
}

/// Attachment URLs stay valid for one to two hours: the expiry is rounded up to the hour, so a
/// page renders the same URLs for an hour and browsers can cache the images.
pub const ATTACHMENT_URL_BUCKET_SECS: i64 = 60 * 60;

pub fn attachment_url_expiry(now: i64) -> i64 {
    (now / ATTACHMENT_URL_BUCKET_SECS + 2) * ATTACHMENT_URL_BUCKET_SECS
}

/// What an attachment URL is bound to: like the cookie, the share at its password version, so
/// a password change ends the URLs handed out before it.
#[derive(Debug, Clone, Copy)]
pub struct AttachmentGrant<'a> {
    pub share: ShareId,
    pub password_version: i32,
    /// The page of the share that shows the attachment (its own, or one of its tree).
    pub page_id: &'a str,
    pub attachment_id: &'a str,
    pub expires: i64,
}

impl AttachmentGrant<'_> {
    /// The signed parts, on the stack.
    fn with_parts<R>(&self, f: impl FnOnce(&[&[u8]]) -> R) -> R {
        let version = self.password_version.to_be_bytes();
        let expires = self.expires.to_be_bytes();
        f(&[
            self.share.uuid().as_bytes(),
            &version,
            self.page_id.as_bytes(),
            self.attachment_id.as_bytes(),
            &expires,
        ])
    }
}

/// The `sig` (hex) of an attachment URL.
pub fn attachment_signature(key: &SigningKey, grant: AttachmentGrant<'_>) -> String {
    hex::encode(grant.with_parts(|parts| key.tag(Purpose::AttachmentUrl, parts)))
}

pub fn attachment_signature_is_valid(
    key: &SigningKey,
    grant: AttachmentGrant<'_>,
    sig_hex: &str,
    now: i64,
) -> bool {
    let mut tag = [0u8; 32];
    now < grant.expires
        && hex::decode_to_slice(sig_hex, &mut tag).is_ok()
        && grant.with_parts(|parts| key.verify(Purpose::AttachmentUrl, parts, &tag))
}

/// How long a password form can be submitted after it was shown.
pub const FORM_TOKEN_TTL_SECS: i64 = 2 * 60 * 60;

/// The password form's token: `{expires}.{tag}`, bound to the share and to the address of the
/// client it was shown to (as rate limits see it). A post without a live token of its share,
/// given to that address, is refused: a cross-site page cannot read the form, and a token its
/// own server fetched does not work from a visitor's browser, whatever its `Origin` says.
pub fn form_token(key: &SigningKey, share: ShareId, client: &str, expires: i64) -> String {
    let tag = key.tag(
        Purpose::PasswordForm,
        &[
            share.uuid().as_bytes(),
            client.as_bytes(),
            &expires.to_be_bytes(),
        ],
    );
    format!("{expires}.{}", hex::encode(tag))
}

pub fn form_token_is_valid(
    key: &SigningKey,
    share: ShareId,
    client: &str,
    token: &str,
    now: i64,
) -> bool {
    let Some((expires, tag_hex)) = token.split_once('.') else {
        return false;
    };
    let mut tag = [0u8; 32];
    let Ok(expires) = expires.parse::<i64>() else {
        return false;
    };
    now < expires
        && hex::decode_to_slice(tag_hex, &mut tag).is_ok()
        && key.verify(
            Purpose::PasswordForm,
            &[
                share.uuid().as_bytes(),
                client.as_bytes(),
                &expires.to_be_bytes(),
            ],
            &tag,
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn cookie_rules() {
        let key = SigningKey::new(&[1; 32]);
        let share = ShareId::new();
        let good = cookie_value(&key, share, 3, NOW + 60);
        let cases: Vec<(&str, SigningKey, ShareId, i32, String, i64, bool)> = vec![
            ("valid", key.clone(), share, 3, good.clone(), NOW, true),
            (
                "other share",
                key.clone(),
                ShareId::new(),
                3,
                good.clone(),
                NOW,
                false,
            ),
            (
                "password changed",
                key.clone(),
                share,
                4,
                good.clone(),
                NOW,
                false,
            ),
            (
                "expired",
                key.clone(),
                share,
                3,
                good.clone(),
                NOW + 60,
                false,
            ),
            (
                "other key",
                SigningKey::new(&[2; 32]),
                share,
                3,
                good.clone(),
                NOW,
                false,
            ),
            (
                "version edited",
                key.clone(),
                share,
                4,
                good.replacen(".3.", ".4.", 1),
                NOW,
                false,
            ),
            (
                "expiry edited",
                key.clone(),
                share,
                3,
                good.replacen(&(NOW + 60).to_string(), &(NOW + 9999).to_string(), 1),
                NOW,
                false,
            ),
            ("garbage", key.clone(), share, 3, "x.y.z".into(), NOW, false),
            ("empty", key.clone(), share, 3, String::new(), NOW, false),
        ];
        for (name, key, share, version, value, now, expected) in cases {
            assert_eq!(
                cookie_is_valid(&key, share, version, &value, now),
                expected,
                "{name}"
            );
        }
    }

    #[test]
    fn form_tokens_are_bound_to_share_key_and_time() {
        let key = SigningKey::new(&[1; 32]);
        let share = ShareId::new();
        let client = "203.0.113.9";
        let token = form_token(&key, share, client, NOW + 60);
        assert!(form_token_is_valid(&key, share, client, &token, NOW));
        assert!(
            !form_token_is_valid(&key, share, "198.51.100.7", &token, NOW),
            "another client"
        );
        let cases = [
            ("expired", key.clone(), share, token.clone(), NOW + 60),
            (
                "other share",
                key.clone(),
                ShareId::new(),
                token.clone(),
                NOW,
            ),
            (
                "other key",
                SigningKey::new(&[2; 32]),
                share,
                token.clone(),
                NOW,
            ),
            (
                "expiry edited",
                key.clone(),
                share,
                token.replacen(&(NOW + 60).to_string(), &(NOW + 999).to_string(), 1),
                NOW,
            ),
            (
                "a cookie value is no form token",
                key.clone(),
                share,
                cookie_value(&key, share, 0, NOW + 60),
                NOW,
            ),
            ("garbage", key.clone(), share, "x.y".into(), NOW),
            ("empty", key.clone(), share, String::new(), NOW),
        ];
        for (name, key, share, token, now) in cases {
            assert!(
                !form_token_is_valid(&key, share, client, &token, now),
                "{name}"
            );
        }
    }

    #[test]
    fn attachment_urls_are_bound_to_share_version_attachment_and_time() {
        let key = SigningKey::new(&[1; 32]);
        let exp = attachment_url_expiry(NOW);
        assert!(
            exp - NOW > ATTACHMENT_URL_BUCKET_SECS && exp - NOW <= 2 * ATTACHMENT_URL_BUCKET_SECS
        );
        let grant = AttachmentGrant {
            share: ShareId::new(),
            password_version: 2,
            page_id: "1234",
            attachment_id: "att1",
            expires: exp,
        };
        let sig = &attachment_signature(&key, grant);
        let valid = |g: AttachmentGrant<'_>, sig: &str, now: i64| {
            attachment_signature_is_valid(&key, g, sig, now)
        };
        assert!(valid(grant, sig, NOW));
        let cases = [
            (
                "other attachment",
                AttachmentGrant {
                    attachment_id: "att2",
                    ..grant
                },
                sig.as_str(),
                NOW,
            ),
            (
                "other page",
                AttachmentGrant {
                    page_id: "1235",
                    ..grant
                },
                sig,
                NOW,
            ),
            (
                "other share",
                AttachmentGrant {
                    share: ShareId::new(),
                    ..grant
                },
                sig,
                NOW,
            ),
            (
                "password changed",
                AttachmentGrant {
                    password_version: 3,
                    ..grant
                },
                sig,
                NOW,
            ),
            (
                "expiry edited",
                AttachmentGrant {
                    expires: exp + 1,
                    ..grant
                },
                sig,
                NOW,
            ),
            ("expired", grant, sig, exp),
            ("not hex", grant, "zz", NOW),
        ];
        for (name, g, sig, now) in cases {
            assert!(!valid(g, sig, now), "{name}");
        }
    }
}
