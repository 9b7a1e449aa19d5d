//! Micro-benchmarks of the hot paths (`cargo bench`; `cargo bench -- --quick` for a short run).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use pageshare::connect::canonical::{RequestParts, qsh};
use pageshare::connect::secrets::{SecretKind, SharedSecret};
use pageshare::connect::token::{OutgoingClaims, QshRule, sign, verify};

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

criterion_group!(benches, connect_jwt);
criterion_main!(benches);
