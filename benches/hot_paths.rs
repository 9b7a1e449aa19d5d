//! Micro-benchmarks of the hot paths (`cargo bench --bench hot_paths`).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use pageshare::connect::canonical::{RequestParts, qsh};
use pageshare::connect::secrets::{SecretKind, SharedSecret};
use pageshare::connect::token::{OutgoingClaims, QshRule, sign, verify};
use pageshare::forge::ids::AppId;
use pageshare::forge::keys::ForgeKey;
use pageshare::forge::token::{Environment, Expectations, UnverifiedFit};
use pageshare::sandbox::{FORGE_APP_ID, Page, keys};
use pageshare::share::content::{PageLink, sanitize};
use pageshare::share::cookie::{
    AttachmentGrant, attachment_signature, cookie_is_valid, cookie_value,
};
use pageshare::share::signing::SigningKey;
use pageshare::share::site_key::{SiteKey, Verifier};
use pageshare::share::unlock::{UnlockCredentials, mint_unlock_token, verify_unlock};
use pageshare::share::unlock_key::UnlockKey;
use pageshare::share::{ShareId, UnlockSecret};

const NOW: i64 = 1_800_000_000;
const PATH: &str = "/connect/share-panel";
/// The query Confluence puts on an iframe URL: about ten parameters, the `jwt` among them.
const QUERY: &str = "contentId=1234567&spaceKey=DOC&xdm_e=https%3A%2F%2Facme.atlassian.net\
&xdm_c=channel-pageshare__pageshare-share&cp=%2Fwiki&xdm_deprecated_addon_key_do_not_use=pageshare\
&lic=active&cv=1001.0.0-SNAPSHOT&user_locale=en-GB&tz=Europe%2FLondon";

fn request(query: &str) -> RequestParts<'_> {
    RequestParts {
        method: "GET",
        path: PATH,
        query,
    }
}

fn connect_jwt(c: &mut Criterion) {
    let secret =
        SharedSecret::new("3b7ef0b1-6c2e-4a53-9c2a-4f5c1b2a0d9e-shared-secret-of-the-tenant");
    let claims = OutgoingClaims {
        iss: "acme-5fd7c0b2-8c5e-4d1a-9a55-2f0f5e3c7a11".into(),
        iat: NOW - 10,
        exp: NOW + 170,
        qsh: qsh(request(QUERY), ""),
        sub: Some("557058:f2b7a9c4-1d2e-4f3a-8b9c-0d1e2f3a4b5c".into()),
        aud: None,
    };
    let token = sign(&claims, &secret);
    let query = format!("{QUERY}&jwt={token}");
    let candidates = [Some((SecretKind::PerInstall, &secret)), None];

    c.bench_function("qsh of a typical iframe request", |b| {
        b.iter(|| qsh(black_box(request(&query)), ""))
    });
    c.bench_function(
        "connect jwt: full verification (qsh, decode, signature)",
        |b| {
            b.iter(|| {
                let expected = qsh(black_box(request(&query)), "");
                verify(
                    black_box(&token),
                    &candidates,
                    QshRule::Computed(&expected),
                    NOW,
                    30,
                )
                .expect("valid token")
            })
        },
    );
}

/// A Forge invocation token like Forge's (its documented claims), for the sandbox's key.
fn forge_fit(c: &mut Criterion) {
    let cloud = "d0d52620-3203-4cfa-8db5-f2587155f0dd";
    let installation = "ari:cloud:ecosystem::installation/0a3a7799-53ae-4a5b-9e7e-03338980abb5";
    let base = "https://api.atlassian.com/ex/confluence/";
    let claims = serde_json::json!({
        "app": {
            "id": FORGE_APP_ID, "version": "3", "appVersion": "3.1.0",
            "installationId": installation, "apiBaseUrl": format!("{base}{cloud}"),
            "installation": {"id": installation, "contexts": [
                {"name": "confluence", "apiBaseUrl": format!("{base}{cloud}"), "cloudId": cloud}]},
            "environment": {"type": "PRODUCTION", "id": "ari:cloud:ecosystem::environment/5d3b/9b0c"},
            "module": {"type": "confluence:contentBylineItem", "key": "pageshare-byline"},
        },
        "context": {"localId": "x", "cloudId": cloud, "moduleKey": "pageshare-byline",
            "siteUrl": "https://acme.atlassian.net",
            "extension": {"type": "confluence:contentBylineItem", "content": {"id": "5341185"}}},
        "principal": "655362:312d3308-8954-42b0-aa38-771a10c88656",
        "aud": FORGE_APP_ID, "iss": "forge/invocation-token",
        "iat": NOW - 5, "nbf": NOW - 5, "exp": NOW + 20,
        "jti": "d8a496253ec8c18a54631e4c82cbedd5d0ae8570",
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("kid-1".into());
    let token = jsonwebtoken::encode(&header, &claims, &keys::sandbox().encoding).unwrap();
    let app_id = AppId::parse(FORGE_APP_ID).unwrap();
    let environments = Environment::parse_list("PRODUCTION").unwrap();
    let expect = Expectations {
        app_id: &app_id,
        api_base: base,
        environments: &environments,
        leeway_secs: 30,
    };
    let sandbox = keys::sandbox();
    let key = &ForgeKey::from_components(&sandbox.modulus, &sandbox.exponent).unwrap();
    c.bench_function("forge fit: full verification (RS256, claims)", |b| {
        b.iter(|| {
            UnverifiedFit::parse(black_box(&token))
                .and_then(|fit| fit.verify(key, expect, NOW))
                .expect("valid token")
        })
    });
}

fn unlock_and_cookie(c: &mut Criterion) {
    let share = ShareId::new();
    let secret = UnlockSecret::generate();
    let token = mint_unlock_token(share, &secret, NOW - 5, 60);
    c.bench_function("unlock jwt: verification", |b| {
        b.iter(|| verify_unlock(black_box(&token), share, &secret, NOW, 0).expect("valid"))
    });
    // During an overlap both secrets are always tried: the cost of a token of either.
    let previous = UnlockSecret::generate();
    let overlap = UnlockCredentials {
        previous: Some(&previous),
        ..UnlockCredentials::from(&secret)
    };
    let with_previous = mint_unlock_token(share, &previous, NOW - 5, 60);
    c.bench_function(
        "unlock jwt: verification, previous secret during an overlap",
        |b| {
            b.iter(|| {
                verify_unlock(black_box(&with_previous), share, overlap, NOW, 0).expect("valid")
            })
        },
    );
    public_keys(c, share, &secret);
    site_hs256_key(c, share, &secret);
    let key = SigningKey::new(&[7; 32]);
    let cookie = cookie_value(&key, share, 3, NOW + 3600);
    c.bench_function("share cookie: verification", |b| {
        b.iter(|| assert!(cookie_is_valid(&key, share, 3, black_box(&cookie), NOW)))
    });
}

/// An HS256 token naming a site's generated key among 20 (the most a site holds), verified with
/// that key's HMAC state (keyed once, when the site's keys are cached).
fn site_hs256_key(c: &mut Criterion, share: ShareId, secret: &UnlockSecret) {
    let site_secret = UnlockSecret::generate();
    let site_keys: Vec<SiteKey> = (0..20)
        .map(|i| SiteKey {
            kid: format!("hs256-{i:024}"),
            space_keys: vec!["DOC".into()],
            verifier: Verifier::secret(&site_secret),
        })
        .collect();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(site_keys[19].kid.clone());
    let claims = serde_json::json!({"nbf": NOW - 5, "exp": NOW + 55, "iss": share.to_string()});
    let signing = jsonwebtoken::EncodingKey::from_secret(site_secret.as_bytes());
    let token = jsonwebtoken::encode(&header, &claims, &signing).unwrap();
    let credentials = UnlockCredentials {
        site_keys: &site_keys,
        space_key: "DOC",
        ..UnlockCredentials::from(secret)
    };
    c.bench_function(
        "unlock jwt: verification, HS256 site key (20th of 20)",
        |b| b.iter(|| verify_unlock(black_box(&token), share, credentials, NOW, 0).expect("valid")),
    );
}

/// A token signed with a private key, verified with the public key its `kid` names, as the share
/// page does (the keys parsed once, when the share is cached).
fn public_keys(c: &mut Criterion, share: ShareId, secret: &UnlockSecret) {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    use rsa::pkcs8::LineEnding;

    let ed = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let ec = p256::SecretKey::from_slice(&[9; 32]).unwrap();
    let point = ec.public_key().to_encoded_point(false);
    let rsa = keys::sandbox();
    let cases = [
        (
            "EdDSA",
            serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": B64.encode(ed.verifying_key().as_bytes())}),
            EncodingKey::from_ed_der(ed.to_pkcs8_der().unwrap().as_bytes()),
            Algorithm::EdDSA,
        ),
        (
            "ES256",
            serde_json::json!({"kty": "EC", "crv": "P-256", "x": B64.encode(point.x().unwrap()), "y": B64.encode(point.y().unwrap())}),
            EncodingKey::from_ec_pem(
                p256::pkcs8::EncodePrivateKey::to_pkcs8_pem(&ec, LineEnding::LF)
                    .unwrap()
                    .as_bytes(),
            )
            .unwrap(),
            Algorithm::ES256,
        ),
        (
            "RS256",
            serde_json::json!({"kty": "RSA", "n": B64.encode(&rsa.modulus), "e": B64.encode(&rsa.exponent)}),
            rsa.encoding.clone(),
            Algorithm::RS256,
        ),
    ];
    for (name, jwk, signing, alg) in cases {
        let (_, key) = UnlockKey::from_jwk(&jwk).unwrap();
        let mut header = Header::new(alg);
        header.kid = Some(key.kid.clone());
        let claims = serde_json::json!({"nbf": NOW - 5, "exp": NOW + 55, "iss": share.to_string()});
        let token = jsonwebtoken::encode(&header, &claims, &signing).unwrap();
        let keys = [key];
        let credentials = UnlockCredentials {
            keys: &keys,
            ..UnlockCredentials::from(secret)
        };
        c.bench_function(
            &format!("unlock jwt: verification, {name} public key"),
            |b| {
                b.iter(|| {
                    verify_unlock(black_box(&token), share, credentials, NOW, 0).expect("valid")
                })
            },
        );
    }
}

/// A realistic `export_view` of about 50 KB: the sample page's sections many times over.
fn page_of_50_kb(base_url: &str) -> String {
    let section = Page::sample(base_url, "65537").export_view;
    let mut page = String::with_capacity(52 * 1024);
    while page.len() < 50 * 1024 {
        page.push_str(&section);
    }
    page
}

fn content(c: &mut Criterion) {
    let base_url = "https://acme.atlassian.net/wiki";
    let export_view = page_of_50_kb(base_url);
    c.bench_function("content: sanitise and rewrite a 50 KB export_view", |b| {
        b.iter(|| sanitize(black_box(&export_view), base_url))
    });
    let page = sanitize(&export_view, base_url);
    let key = SigningKey::new(&[7; 32]);
    let share = ShareId::new();
    c.bench_function(
        "content: render a cached 50 KB page with signed image URLs",
        |b| {
            b.iter(|| {
                let mut out = String::with_capacity(64 * 1024);
                let signed = |id: &str, out: &mut String| {
                    out.push_str(id);
                    let grant = AttachmentGrant {
                        share,
                        password_version: 0,
                        page_id: "65538",
                        attachment_id: id,
                        expires: NOW,
                    };
                    out.push_str(&attachment_signature(&key, grant));
                };
                page.render(&mut out, signed, |_| PageLink::Unchanged);
                out
            })
        },
    );
}

fn metrics(c: &mut Criterion) {
    let metrics = pageshare::metrics::Metrics::default();
    c.bench_function(
        "metrics: record one request (route, method, status, time)",
        |b| {
            b.iter(|| {
                metrics.request(
                    black_box("/content/{uuid}").to_owned(),
                    "GET",
                    200,
                    std::time::Duration::from_micros(900),
                )
            })
        },
    );
}

/// What a share page view adds: the reader's hash and the count, for a reader already counted
/// today (the common case; a new reader adds one set insertion).
fn readership(c: &mut Criterion) {
    use pageshare::share::readership::{Access, Readership};
    let counting = Readership::new(SigningKey::new(&[9; 32]));
    let share = ShareId::new();
    let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
    let client = Some("203.0.113.9".parse().unwrap());
    let agent: &[u8] = b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
Chrome/140.0.0.0 Safari/537.36";
    c.bench_function("readership: count one view (hash and record)", |b| {
        b.iter(|| {
            let reader = counting.reader(day, black_box(client), black_box(agent));
            counting.record(share, day, Access::Cookie, reader);
        })
    });
}

criterion_group!(
    benches,
    connect_jwt,
    forge_fit,
    unlock_and_cookie,
    content,
    metrics,
    readership
);
criterion_main!(benches);
