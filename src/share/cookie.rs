//! The share cookie and signed attachment URLs: values bound to one share, signed with the
//! cookie key, expiring.
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

/// The `sig` (hex) of an attachment URL of a share, valid until `expires`.
pub fn attachment_signature(
    key: &SigningKey,
    share: ShareId,
    attachment_id: &str,
    expires: i64,
) -> String {
    let tag = key.tag(
        Purpose::AttachmentUrl,
        &[
            share.uuid().as_bytes(),
            attachment_id.as_bytes(),
            &expires.to_be_bytes(),
        ],
    );
    hex::encode(tag)
}

pub fn attachment_signature_is_valid(
    key: &SigningKey,
    share: ShareId,
    attachment_id: &str,
    expires: i64,
    sig_hex: &str,
    now: i64,
) -> bool {
    let mut tag = [0u8; 32];
    now < expires
        && hex::decode_to_slice(sig_hex, &mut tag).is_ok()
        && key.verify(
            Purpose::AttachmentUrl,
            &[
                share.uuid().as_bytes(),
                attachment_id.as_bytes(),
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
    fn attachment_urls_are_bound_to_share_attachment_and_time() {
        let key = SigningKey::new(&[1; 32]);
        let share = ShareId::new();
        let exp = attachment_url_expiry(NOW);
        assert!(
            exp - NOW > ATTACHMENT_URL_BUCKET_SECS && exp - NOW <= 2 * ATTACHMENT_URL_BUCKET_SECS
        );
        let sig = &attachment_signature(&key, share, "att1", exp);
        assert!(attachment_signature_is_valid(
            &key, share, "att1", exp, sig, NOW
        ));
        assert!(!attachment_signature_is_valid(
            &key, share, "att2", exp, sig, NOW
        ));
        assert!(!attachment_signature_is_valid(
            &key,
            ShareId::new(),
            "att1",
            exp,
            sig,
            NOW
        ));
        assert!(!attachment_signature_is_valid(
            &key,
            share,
            "att1",
            exp + 1,
            sig,
            NOW
        ));
        assert!(!attachment_signature_is_valid(
            &key, share, "att1", exp, sig, exp
        ));
        assert!(!attachment_signature_is_valid(
            &key, share, "att1", exp, "zz", NOW
        ));
    }
}
