//! Every FIT rule, one case each.

use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};

use super::*;
use crate::sandbox::keys;

const NOW: i64 = 1_800_000_000;
const APP: &str = "ari:cloud:ecosystem::app/8db33809-1f32-48bb-8c52-5877dab48107";
const OTHER_APP: &str = "ari:cloud:ecosystem::app/11111111-2222-4333-8444-555555555555";
const INSTALLATION: &str = "ari:cloud:ecosystem::installation/0a3a7799-53ae-4a5b-9e7e-03338980abb5";
const CLOUD: &str = "d0d52620-3203-4cfa-8db5-f2587155f0dd";
const OTHER_CLOUD: &str = "a1b2c3d4-3203-4cfa-8db5-f2587155f0dd";
const BASE: &str = "https://api.atlassian.com/ex/confluence/";
const PRINCIPAL: &str = "655362:312d3308-8954-42b0-aa38-771a10c88656";

/// Claims shaped like Atlassian's documented example, valid at [`NOW`].
fn claims() -> Value {
    json!({
        "app": {
            "id": APP,
            "version": "16",
            "appVersion": "16.0.1",
            "installationId": INSTALLATION,
            "apiBaseUrl": format!("{BASE}{CLOUD}"),
            "installation": {
                "id": INSTALLATION,
                "contexts": [
                    {"name": "confluence", "apiBaseUrl": format!("{BASE}{CLOUD}"), "cloudId": CLOUD},
                    {"name": "bitbucket", "apiBaseUrl": "https://api.bitbucket.org", "workspaceId": "b7ea02c9"}
                ]
            },
            "environment": {"type": "PRODUCTION", "id": "ari:cloud:ecosystem::environment/8db33809/aa911f10"},
            "module": {"type": "confluence:contentBylineItem", "key": "pageshare-byline"}
        },
        "context": {
            "localId": "4654fa12", "cloudId": CLOUD, "moduleKey": "pageshare-byline",
            "siteUrl": "https://acme.atlassian.net",
            "extension": {"type": "confluence:contentBylineItem", "content": {"id": "5341185"}}
        },
        "principal": PRINCIPAL,
        "aud": APP,
        "iss": ISSUER,
        "iat": NOW - 5, "nbf": NOW - 5, "exp": NOW + 20,
        "jti": "d8a496253ec8c18a54631e4c82cbedd5d0ae8570"
    })
}

fn header(kid: Option<&str>) -> Header {
    let mut header = Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    header
}

fn signed_with(header: &Header, claims: &Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(header, claims, key).unwrap()
}

fn rs256(claims: &Value) -> String {
    signed_with(&header(Some("kid-1")), claims, &keys::sandbox().encoding)
}

fn with(change: impl FnOnce(&mut Value)) -> String {
    let mut claims = claims();
    change(&mut claims);
    rs256(&claims)
}

fn without(pointer: &str) -> String {
    with(|claims| {
        let (parent, name) = pointer.rsplit_once('/').unwrap();
        claims
            .pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove(name);
    })
}

fn verify(token: &str, environments: &[Environment]) -> Result<Invocation, FitError> {
    let app_id = AppId::parse(APP).unwrap();
    let expect = Expectations {
        app_id: &app_id,
        api_base: BASE,
        environments,
        leeway_secs: 30,
    };
    let key = keys::sandbox();
    let key = crate::forge::keys::ForgeKey::from_components(&key.modulus, &key.exponent).unwrap();
    UnverifiedFit::parse(token)?.verify(&key, expect, NOW)
}

fn production() -> Vec<Environment> {
    Environment::parse_list("PRODUCTION").unwrap()
}

#[test]
fn a_token_like_forges_verifies_into_its_invocation() {
    let invocation = verify(&rs256(&claims()), &production()).unwrap();
    assert_eq!(invocation.installation_id.as_str(), INSTALLATION);
    assert_eq!(invocation.cloud_id.to_string(), CLOUD);
    assert_eq!(invocation.api_base_url, format!("{BASE}{CLOUD}"));
    assert_eq!(invocation.principal.unwrap().as_str(), PRINCIPAL);
    assert_eq!(
        invocation.site_url.as_deref(),
        Some("https://acme.atlassian.net")
    );
    assert!(invocation.from_ui);
}

#[test]
fn a_trigger_is_not_a_ui_invocation_and_a_ui_one_is_told_by_either_sign() {
    // A lifecycle trigger's token as observed: no principal, a context without extension.
    let trigger = with_value(|c| {
        c.as_object_mut().unwrap().remove("principal");
        c["app"]["module"] = json!({"type": "core:trigger", "key": "pageshare-installed"});
        c["context"] = json!({"cloudId": CLOUD, "moduleKey": "pageshare-installed", "userAccess": {"enabled": false}});
    });
    let cases = [
        (trigger.clone(), false),
        (
            with_value(|c| {
                c.as_object_mut().unwrap().remove("context");
                c.as_object_mut().unwrap().remove("principal");
            }),
            false,
        ),
        (
            {
                let mut anonymous = claims();
                anonymous.as_object_mut().unwrap().remove("principal");
                anonymous
            },
            true,
        ),
        (
            with_value(|c| {
                c["context"] = json!({"cloudId": CLOUD});
            }),
            true,
        ),
    ];
    for (claims, from_ui) in cases {
        let invocation = verify(&rs256(&claims), &production()).unwrap();
        assert_eq!(invocation.from_ui, from_ui, "{claims}");
    }
}

#[test]
fn the_rules_one_case_each() {
    use FitError::*;
    let b64 = |text: &str| {
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, text)
    };
    let payload = b64(&claims().to_string());
    let public_pem = keys::sandbox().public_pem.as_bytes();
    let cases: Vec<(&str, String, Result<(), FitError>)> = vec![
        ("valid", rs256(&claims()), Ok(())),
        (
            "aud as an array",
            with(|c| c["aud"] = json!([OTHER_APP, APP])),
            Ok(()),
        ),
        ("no context (a trigger)", without("/context"), Ok(())),
        ("no principal (a trigger)", without("/principal"), Ok(())),
        (
            "no installation block",
            without("/app/installation"),
            Ok(()),
        ),
        (
            "nbf within the leeway",
            with(|c| c["nbf"] = json!(NOW + 30)),
            Ok(()),
        ),
        (
            "exp within the leeway",
            with(|c| c["exp"] = json!(NOW - 29)),
            Ok(()),
        ),
        (
            "no kid",
            signed_with(&header(None), &claims(), &keys::sandbox().encoding),
            Err(MissingKid),
        ),
        (
            "alg none",
            format!("{}.{payload}.", b64(r#"{"alg":"none","kid":"kid-1"}"#)),
            Err(AlgorithmNotAllowed),
        ),
        (
            "HS256 signed with the public key",
            signed_with(
                &Header {
                    kid: Some("kid-1".into()),
                    ..Header::new(jsonwebtoken::Algorithm::HS256)
                },
                &claims(),
                &EncodingKey::from_secret(public_pem),
            ),
            Err(AlgorithmNotAllowed),
        ),
        (
            "RS512",
            signed_with(
                &Header {
                    kid: Some("kid-1".into()),
                    ..Header::new(jsonwebtoken::Algorithm::RS512)
                },
                &claims(),
                &keys::sandbox().encoding,
            ),
            Err(AlgorithmNotAllowed),
        ),
        (
            "crit header",
            signed_with(
                &Header {
                    crit: Some(vec!["exp".into()]),
                    ..header(Some("kid-1"))
                },
                &claims(),
                &keys::sandbox().encoding,
            ),
            Err(CriticalHeader),
        ),
        (
            "another key under the right kid",
            signed_with(
                &header(Some("kid-1")),
                &claims(),
                &keys::stranger().encoding,
            ),
            Err(BadSignature),
        ),
        (
            "payload edited after signing",
            {
                let token = rs256(&claims());
                let (head, rest) = token.split_once('.').unwrap();
                let (_, sig) = rest.split_once('.').unwrap();
                let edited =
                    b64(&with_value(|c| c["app"]["installationId"] = json!("x")).to_string());
                format!("{head}.{edited}.{sig}")
            },
            Err(BadSignature),
        ),
        (
            "wrong iss",
            with(|c| c["iss"] = json!("someone/else")),
            Err(WrongIssuer),
        ),
        (
            "another app's aud",
            with(|c| c["aud"] = json!(OTHER_APP)),
            Err(WrongAudience),
        ),
        (
            "app.id is not aud",
            with(|c| c["app"]["id"] = json!(OTHER_APP)),
            Err(WrongApp),
        ),
        ("no iss", without("/iss"), Err(MissingClaim("iss"))),
        ("no aud", without("/aud"), Err(MissingClaim("aud"))),
        ("no exp", without("/exp"), Err(MissingClaim("exp"))),
        ("no nbf", without("/nbf"), Err(MissingClaim("nbf"))),
        ("no iat", without("/iat"), Err(MissingClaim("iat"))),
        ("no jti", without("/jti"), Err(MissingClaim("jti"))),
        ("no app", without("/app"), Err(MissingClaim("app"))),
        (
            "no installationId",
            without("/app/installationId"),
            Err(MissingClaim("app.installationId")),
        ),
        (
            "no apiBaseUrl",
            without("/app/apiBaseUrl"),
            Err(MissingClaim("app.apiBaseUrl")),
        ),
        (
            "exp as a string",
            with(|c| c["exp"] = json!((NOW + 20).to_string())),
            Err(InvalidClaim("exp")),
        ),
        (
            "nbf as a string",
            with(|c| c["nbf"] = json!("now")),
            Err(InvalidClaim("nbf")),
        ),
        (
            "iat as a bool",
            with(|c| c["iat"] = json!(true)),
            Err(InvalidClaim("iat")),
        ),
        (
            "jti a number",
            with(|c| c["jti"] = json!(7)),
            Err(InvalidClaim("jti")),
        ),
        (
            "jti empty",
            with(|c| c["jti"] = json!("")),
            Err(InvalidClaim("jti")),
        ),
        (
            "expired",
            with(|c| c["exp"] = json!(NOW - 30)),
            Err(Expired),
        ),
        (
            "nbf ahead",
            with(|c| c["nbf"] = json!(NOW + 31)),
            Err(NotYetValid),
        ),
        (
            "installation ids differ",
            with(|c| {
                c["app"]["installation"]["id"] =
                    json!("ari:cloud:ecosystem::installation/11111111-2222-4333-8444-555555555555")
            }),
            Err(InstallationMismatch),
        ),
        (
            "installationId not an ARI",
            with(|c| c["app"]["installationId"] = json!("0a3a7799-53ae-4a5b-9e7e-03338980abb5")),
            Err(InvalidClaim("app.installationId")),
        ),
        (
            "apiBaseUrl on another host",
            with(|c| {
                c["app"]["apiBaseUrl"] =
                    json!(format!("https://evil.example.com/ex/confluence/{CLOUD}"))
            }),
            Err(WrongApiBase),
        ),
        (
            "apiBaseUrl with a path after the cloud id",
            with(|c| c["app"]["apiBaseUrl"] = json!(format!("{BASE}{CLOUD}/wiki"))),
            Err(WrongApiBase),
        ),
        (
            "apiBaseUrl without a uuid",
            with(|c| c["app"]["apiBaseUrl"] = json!(format!("{BASE}acme"))),
            Err(WrongApiBase),
        ),
        (
            "context.cloudId of another site",
            with(|c| c["context"]["cloudId"] = json!(OTHER_CLOUD)),
            Err(CloudIdMismatch),
        ),
        (
            "the confluence context of another site",
            with(|c| c["app"]["installation"]["contexts"][0]["cloudId"] = json!(OTHER_CLOUD)),
            Err(CloudIdMismatch),
        ),
        (
            "a DEVELOPMENT environment",
            with(|c| c["app"]["environment"]["type"] = json!("DEVELOPMENT")),
            Err(EnvironmentNotAllowed),
        ),
        (
            "no environment",
            without("/app/environment"),
            Err(EnvironmentNotAllowed),
        ),
        (
            "icLabel",
            with(|c| c["icLabel"] = json!("orange")),
            Err(IsolatedCloud),
        ),
        (
            "icLabel null",
            with(|c| c["icLabel"] = Value::Null),
            Err(IsolatedCloud),
        ),
        (
            "lives 301 s",
            with(|c| c["exp"] = json!(NOW - 5 + 301)),
            Err(LivesTooLong),
        ),
        (
            "lives 300 s",
            with(|c| c["exp"] = json!(NOW - 5 + 300)),
            Ok(()),
        ),
        (
            "a principal with a line break",
            with(|c| c["principal"] = json!("a\nb")),
            Err(InvalidClaim("principal")),
        ),
        ("too long", "a".repeat(MAX_FIT_LEN + 1), Err(TooLong)),
        ("garbage", "not a token".into(), Err(Malformed)),
    ];
    for (name, token, expected) in cases {
        assert_eq!(
            verify(&token, &production()).map(|_| ()),
            expected,
            "{name}"
        );
    }
}

fn with_value(change: impl FnOnce(&mut Value)) -> Value {
    let mut claims = claims();
    change(&mut claims);
    claims
}

#[test]
fn environments_are_allowed_by_type_or_by_id() {
    let development = with(|c| c["app"]["environment"]["type"] = json!("DEVELOPMENT"));
    let by_type = Environment::parse_list("production, development").unwrap();
    assert!(verify(&development, &by_type).is_ok());
    let by_id =
        Environment::parse_list("ari:cloud:ecosystem::environment/8db33809/aa911f10").unwrap();
    assert!(verify(&development, &by_id).is_ok());
    assert_eq!(
        verify(&development, &Environment::parse_list("STAGING").unwrap()).map(|_| ()),
        Err(FitError::EnvironmentNotAllowed)
    );
    assert!(Environment::parse_list(" , ").is_err());
    assert!(Environment::parse_list("bad id").is_err());
}

#[test]
fn oauth_token_expiry_is_read_from_its_payload_only() {
    let b64 = |text: &str| {
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, text)
    };
    let token = format!(
        "{}.{}.sig",
        b64(r#"{"alg":"RS256"}"#),
        b64(r#"{"exp":1800003600}"#)
    );
    assert_eq!(token_expiry(&token), Some(1_800_003_600));
    for opaque in [
        "opaque-token",
        "a.b.c",
        &format!("x.{}.y", b64(r#"{"exp":"soon"}"#)),
    ] {
        assert_eq!(token_expiry(opaque), None, "{opaque}");
    }
}
