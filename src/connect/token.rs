//! Connect JWTs signed with a shared secret (HS256): verifying incoming ones, signing outgoing
//! ones. Pure functions: the caller passes the secrets and the time.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

use super::canonical::CONTEXT_QSH;
use super::secrets::{SecretKind, SharedSecret};
use crate::jws::{Alg, Jws, JwsError};

/// Longest token accepted; real Connect tokens are well under 2 KB.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Longest `iss` (a client key) looked up.
const MAX_ISSUER_LEN: usize = 256;
/// Longest lifetime (`exp - iat`) a Connect token may claim: Atlassian's last 3 minutes.
pub const MAX_LIFETIME_SECS: i64 = 60 * 60;

/// What the `qsh` claim must be for the route.
#[derive(Debug, Clone, Copy)]
pub enum QshRule<'a> {
    /// The hash of this very request (iframe and lifecycle routes).
    Computed(&'a str),
    /// `context-qsh` (the app's own `/api`, called with `AP.context.getToken()`).
    Context,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token is longer than {MAX_TOKEN_LEN} bytes")]
    TooLong,
    #[error("the token's algorithm is not allowed here (expected {expected})")]
    AlgorithmNotAllowed { expected: &'static str },
    #[error("the token has no `{0}` claim")]
    MissingClaim(&'static str),
    #[error("the token's `{0}` claim has the wrong type")]
    InvalidClaim(&'static str),
    #[error("the token's header has a `crit` parameter, which Pageshare does not understand")]
    CriticalHeader,
    #[error("the token has expired")]
    Expired,
    #[error("the token was issued in the future (`iat` is ahead of the clock)")]
    IssuedInFuture,
    #[error("the token claims a lifetime (exp - iat) longer than an hour")]
    LifetimeTooLong,
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token's qsh does not match this request")]
    QshMismatch,
    #[error("a context token (qsh = context-qsh) is not accepted on this route")]
    ContextTokenNotAllowed,
    #[error("this route takes a context token (qsh = context-qsh)")]
    ContextTokenRequired,
}

/// Claims of an incoming Connect token, all optional so that a missing one gets its own error.
#[derive(Debug, Deserialize)]
struct IncomingClaims {
    iss: Option<String>,
    sub: Option<String>,
    exp: Option<i64>,
    iat: Option<i64>,
    qsh: Option<String>,
}

/// A token whose signature, expiry and qsh verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    pub client_key: String,
    pub account_id: Option<String>,
    pub secret_kind: SecretKind,
}

/// An HS256 token, parsed once but not verified yet: its issuer names the secret to verify with.
#[derive(Debug)]
pub struct UnverifiedToken<'a> {
    jws: Jws<'a>,
    claims: IncomingClaims,
}

impl From<JwsError> for TokenError {
    fn from(error: JwsError) -> Self {
        match error {
            JwsError::Malformed => Self::Malformed,
            JwsError::CriticalHeader => Self::CriticalHeader,
        }
    }
}

impl<'a> UnverifiedToken<'a> {
    /// Check the length and the `alg` (HS256 only) and read the claims, without trusting them.
    pub fn parse(token: &'a str) -> Result<Self, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::TooLong);
        }
        let jws = Jws::parse(token)?;
        if jws.alg != Alg::HS256 {
            return Err(TokenError::AlgorithmNotAllowed { expected: "HS256" });
        }
        let claims = serde_json::from_slice(&jws.payload()?).map_err(|_| TokenError::Malformed)?;
        Ok(Self { jws, claims })
    }

    /// The `iss` claim as sent (not verified): a client key of printable characters, or an error
    /// before it goes near a query.
    pub fn issuer(&self) -> Result<&str, TokenError> {
        let iss = self
            .claims
            .iss
            .as_deref()
            .ok_or(TokenError::MissingClaim("iss"))?;
        if iss.is_empty() || iss.len() > MAX_ISSUER_LEN || iss.chars().any(char::is_control) {
            return Err(TokenError::InvalidClaim("iss"));
        }
        Ok(iss)
    }

    /// Verify the signature against the candidate secrets, in order, then the claims.
    pub fn verify(
        self,
        candidates: &[Option<(SecretKind, &SharedSecret)>],
        rule: QshRule<'_>,
        now: i64,
        leeway_secs: u64,
    ) -> Result<VerifiedToken, TokenError> {
        for (kind, secret) in candidates.iter().flatten() {
            if self.jws.hs256_matches_keyed(secret.hs256()) {
                return check_claims(self.claims, *kind, rule, now, leeway_secs);
            }
        }
        Err(TokenError::BadSignature)
    }
}

/// The issuer of an HS256 token, read *without* verifying it, to find the tenant's secret.
pub fn unverified_issuer(token: &str) -> Result<String, TokenError> {
    UnverifiedToken::parse(token)?.issuer().map(str::to_owned)
}

/// Verify an HS256 Connect token against the candidate secrets, in order.
pub fn verify(
    token: &str,
    candidates: &[Option<(SecretKind, &SharedSecret)>],
    rule: QshRule<'_>,
    now: i64,
    leeway_secs: u64,
) -> Result<VerifiedToken, TokenError> {
    UnverifiedToken::parse(token)?.verify(candidates, rule, now, leeway_secs)
}

fn check_claims(
    claims: IncomingClaims,
    kind: SecretKind,
    rule: QshRule<'_>,
    now: i64,
    leeway_secs: u64,
) -> Result<VerifiedToken, TokenError> {
    let leeway = leeway_secs as i64;
    let exp = claims.exp.ok_or(TokenError::MissingClaim("exp"))?;
    if now >= exp.saturating_add(leeway) {
        return Err(TokenError::Expired);
    }
    let iat = claims.iat.ok_or(TokenError::MissingClaim("iat"))?;
    if iat > now.saturating_add(leeway) {
        return Err(TokenError::IssuedInFuture);
    }
    if exp.saturating_sub(iat) > MAX_LIFETIME_SECS {
        return Err(TokenError::LifetimeTooLong);
    }
    let client_key = claims.iss.ok_or(TokenError::MissingClaim("iss"))?;
    let qsh = claims.qsh.ok_or(TokenError::MissingClaim("qsh"))?;
    match rule {
        QshRule::Context if qsh == CONTEXT_QSH => {}
        QshRule::Context => return Err(TokenError::ContextTokenRequired),
        QshRule::Computed(_) if qsh == CONTEXT_QSH => {
            return Err(TokenError::ContextTokenNotAllowed);
        }
        QshRule::Computed(expected) if qsh.eq_ignore_ascii_case(expected) => {}
        QshRule::Computed(_) => return Err(TokenError::QshMismatch),
    }
    Ok(VerifiedToken {
        client_key,
        account_id: claims.sub,
        secret_kind: kind,
    })
}

/// Claims of a token this app or the simulated host signs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutgoingClaims {
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
    pub qsh: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<Vec<String>>,
}

/// Sign claims with HS256.
pub fn sign(claims: &impl Serialize, secret: &SharedSecret) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("HS256 signing of serialisable claims cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::canonical::qsh_of;

    const NOW: i64 = 1_700_000_000;

    fn secret(s: &str) -> SharedSecret {
        SharedSecret::new(s)
    }

    fn claims(qsh: &str, exp: i64) -> OutgoingClaims {
        claims_issued(qsh, NOW - 10, exp)
    }

    fn claims_issued(qsh: &str, iat: i64, exp: i64) -> OutgoingClaims {
        OutgoingClaims {
            iss: "tenant-1".into(),
            iat,
            exp,
            qsh: qsh.into(),
            sub: Some("account-1".into()),
            aud: None,
        }
    }

    fn with_alg(alg: Algorithm, body: &serde_json::Value, key: &[u8]) -> String {
        jsonwebtoken::encode(&Header::new(alg), body, &EncodingKey::from_secret(key)).unwrap()
    }

    #[test]
    fn rules_table() {
        let own = secret("own-secret");
        let other = secret("other-secret");
        let request_qsh = qsh_of("GET&/connect/admin&");
        let candidates = [Some((SecretKind::PerInstall, &own)), None];
        let cases: Vec<(&str, String, QshRule, Result<(), TokenError>)> = vec![
            (
                "valid computed",
                sign(&claims(&request_qsh, NOW + 60), &own),
                QshRule::Computed(&request_qsh),
                Ok(()),
            ),
            (
                "valid context",
                sign(&claims(CONTEXT_QSH, NOW + 60), &own),
                QshRule::Context,
                Ok(()),
            ),
            (
                "expired past leeway",
                sign(&claims(&request_qsh, NOW - 30), &own),
                QshRule::Computed(&request_qsh),
                Err(TokenError::Expired),
            ),
            (
                "expired within leeway",
                sign(&claims(&request_qsh, NOW - 29), &own),
                QshRule::Computed(&request_qsh),
                Ok(()),
            ),
            (
                "other secret",
                sign(&claims(&request_qsh, NOW + 60), &other),
                QshRule::Computed(&request_qsh),
                Err(TokenError::BadSignature),
            ),
            (
                "qsh of another path",
                sign(&claims(&qsh_of("GET&/other&"), NOW + 60), &own),
                QshRule::Computed(&request_qsh),
                Err(TokenError::QshMismatch),
            ),
            (
                "context token on computed route",
                sign(&claims(CONTEXT_QSH, NOW + 60), &own),
                QshRule::Computed(&request_qsh),
                Err(TokenError::ContextTokenNotAllowed),
            ),
            (
                "computed token on context route",
                sign(&claims(&request_qsh, NOW + 60), &own),
                QshRule::Context,
                Err(TokenError::ContextTokenRequired),
            ),
            (
                "issued in the future, past the leeway",
                sign(&claims_issued(&request_qsh, NOW + 31, NOW + 60), &own),
                QshRule::Computed(&request_qsh),
                Err(TokenError::IssuedInFuture),
            ),
            (
                "issued in the future, within the leeway",
                sign(&claims_issued(&request_qsh, NOW + 30, NOW + 60), &own),
                QshRule::Computed(&request_qsh),
                Ok(()),
            ),
            (
                "valid for exactly an hour",
                sign(&claims_issued(&request_qsh, NOW - 10, NOW + 3590), &own),
                QshRule::Computed(&request_qsh),
                Ok(()),
            ),
            (
                "valid for an hour and a second",
                sign(&claims_issued(&request_qsh, NOW - 10, NOW + 3591), &own),
                QshRule::Computed(&request_qsh),
                Err(TokenError::LifetimeTooLong),
            ),
            (
                "crit header",
                {
                    let mut header = Header::new(Algorithm::HS256);
                    header.crit = Some(vec!["exp".into()]);
                    jsonwebtoken::encode(
                        &header,
                        &claims(&request_qsh, NOW + 60),
                        &EncodingKey::from_secret(own.as_bytes()),
                    )
                    .unwrap()
                },
                QshRule::Computed(&request_qsh),
                Err(TokenError::CriticalHeader),
            ),
            (
                "garbage",
                "not.a.jwt".into(),
                QshRule::Context,
                Err(TokenError::Malformed),
            ),
            (
                "too long",
                "a".repeat(MAX_TOKEN_LEN + 1),
                QshRule::Context,
                Err(TokenError::TooLong),
            ),
        ];
        for (name, token, rule, expected) in cases {
            let got = verify(&token, &candidates, rule, NOW, 30).map(|_| ());
            assert_eq!(got, expected, "{name}");
        }
    }

    #[test]
    fn missing_and_mistyped_claims_are_refused() {
        let own = secret("own-secret");
        let candidates = [Some((SecretKind::PerInstall, &own)), None];
        let cases = [
            (
                serde_json::json!({"iss": "t", "iat": NOW, "qsh": CONTEXT_QSH}),
                TokenError::MissingClaim("exp"),
            ),
            (
                serde_json::json!({"iss": "t", "exp": NOW + 60, "qsh": CONTEXT_QSH}),
                TokenError::MissingClaim("iat"),
            ),
            (
                serde_json::json!({"iat": NOW, "exp": NOW + 60, "qsh": CONTEXT_QSH}),
                TokenError::MissingClaim("iss"),
            ),
            (
                serde_json::json!({"iss": "t", "iat": NOW, "exp": NOW + 60}),
                TokenError::MissingClaim("qsh"),
            ),
            (
                serde_json::json!({"iss": "t", "iat": NOW, "exp": "soon", "qsh": CONTEXT_QSH}),
                TokenError::Malformed,
            ),
            (
                serde_json::json!({"iss": "t", "iat": "now", "exp": NOW + 60, "qsh": CONTEXT_QSH}),
                TokenError::Malformed,
            ),
        ];
        for (body, expected) in cases {
            let token = with_alg(Algorithm::HS256, &body, own.as_bytes());
            assert_eq!(
                verify(&token, &candidates, QshRule::Context, NOW, 0),
                Err(expected),
                "{body}"
            );
        }
    }

    #[test]
    fn only_hs256_is_accepted() {
        let own = secret("own-secret");
        let body = serde_json::json!({"iss": "t", "exp": NOW + 60, "qsh": CONTEXT_QSH});
        let hs512 = with_alg(Algorithm::HS512, &body, own.as_bytes());
        let alg_none = format!(
            "{}.{}.",
            base64_url(br#"{"alg":"none","typ":"JWT"}"#),
            base64_url(body.to_string().as_bytes())
        );
        for token in [hs512, alg_none] {
            assert!(unverified_issuer(&token).is_err());
            let got = verify(
                &token,
                &[Some((SecretKind::PerInstall, &own))],
                QshRule::Context,
                NOW,
                0,
            );
            assert!(got.is_err(), "{token}");
        }
    }

    #[test]
    fn odd_issuers_are_refused_before_any_lookup() {
        let own = secret("own-secret");
        for iss in ["", "a\u{0}b", "line\nbreak", &"k".repeat(257)] {
            let body = serde_json::json!({"iss": iss, "exp": NOW + 60, "qsh": CONTEXT_QSH});
            let token = with_alg(Algorithm::HS256, &body, own.as_bytes());
            assert_eq!(
                unverified_issuer(&token),
                Err(TokenError::InvalidClaim("iss")),
                "{iss:?}"
            );
        }
    }

    #[test]
    fn second_candidate_verifies_and_is_reported() {
        let own = secret("own-secret");
        let app = secret("app-secret");
        let token = sign(&claims(CONTEXT_QSH, NOW + 60), &app);
        let candidates = [
            Some((SecretKind::PerInstall, &own)),
            Some((SecretKind::AppWide, &app)),
        ];
        let verified = verify(&token, &candidates, QshRule::Context, NOW, 0).unwrap();
        assert_eq!(verified.secret_kind, SecretKind::AppWide);
        assert_eq!(verified.client_key, "tenant-1");
        assert_eq!(verified.account_id.as_deref(), Some("account-1"));
    }

    fn base64_url(bytes: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }
}
