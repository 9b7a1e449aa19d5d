//! The sandbox's HTTP side: the install key server and the Confluence REST calls the app makes.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::json;

use super::Shared;
use super::sites::Site;
use crate::connect::canonical::{RequestParts, qsh};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/keys/{kid:.*}", web::get().to(install_key))
        .route("/{site}/wiki/rest/api/user", web::get().to(user))
        .route(
            "/{site}/wiki/rest/api/content/{id}/permission/check",
            web::post().to(permission_check),
        );
}

async fn install_key(kid: web::Path<String>, state: web::Data<Shared>) -> HttpResponse {
    if kid.as_str() != super::KID {
        return HttpResponse::NotFound().finish();
    }
    let pem = state.lock().expect("sandbox state").public_key;
    HttpResponse::Ok()
        .content_type("application/x-pem-file")
        .body(pem)
}

#[derive(Deserialize)]
struct AppClaims {
    iss: String,
    exp: i64,
    qsh: String,
    aud: Vec<String>,
}

/// Why the host refused a call.
enum Refusal {
    UnknownSite,
    Down,
    Unauthorized(&'static str),
}

impl Refusal {
    fn response(self) -> HttpResponse {
        match self {
            Self::UnknownSite => HttpResponse::NotFound().finish(),
            Self::Down => HttpResponse::ServiceUnavailable().finish(),
            Self::Unauthorized(why) => HttpResponse::Unauthorized().json(json!({ "message": why })),
        }
    }
}

/// Check the app's JWT the way Confluence does; answer with the site on success.
fn authorize(req: &HttpRequest, state: &Shared, site_name: &str) -> Result<Site, Refusal> {
    let mut state = state.lock().expect("sandbox state");
    let site = state
        .sites
        .get(site_name)
        .cloned()
        .ok_or(Refusal::UnknownSite)?;
    if site.down {
        return Err(Refusal::Down);
    }
    let token = req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("JWT "))
        .ok_or(Refusal::Unauthorized("missing JWT"))?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<AppClaims>(
        token,
        &DecodingKey::from_secret(site.secret.as_bytes()),
        &validation,
    )
    .map_err(|_| Refusal::Unauthorized("bad signature or claims"))?
    .claims;
    let expected_qsh = qsh(
        RequestParts {
            method: req.method().as_str(),
            path: req.path(),
            query: req.query_string(),
        },
        &site.base_path(),
    );
    if claims.iss != state.app_key
        || claims.exp <= Utc::now().timestamp()
        || !claims.aud.contains(&site.client_key)
        || claims.qsh != expected_qsh
    {
        return Err(Refusal::Unauthorized("iss, exp, aud or qsh wrong"));
    }
    state.verified_calls += 1;
    Ok(site)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserQuery {
    account_id: String,
}

async fn user(
    req: HttpRequest,
    site: web::Path<String>,
    query: web::Query<UserQuery>,
    state: web::Data<Shared>,
) -> HttpResponse {
    let site = match authorize(&req, &state, &site) {
        Ok(site) => site,
        Err(refusal) => return refusal.response(),
    };
    let mut operations = vec![json!({"operation": "use", "targetType": "application"})];
    if site.admins.contains(&query.account_id) {
        operations.push(json!({"operation": "administer", "targetType": "application"}));
    }
    HttpResponse::Ok().json(json!({
        "type": "known",
        "accountId": query.account_id,
        "displayName": query.account_id,
        "operations": operations,
    }))
}

#[derive(Deserialize)]
struct PermissionCheck {
    subject: Subject,
    operation: String,
}

#[derive(Deserialize)]
struct Subject {
    #[serde(rename = "type")]
    kind: String,
    identifier: String,
}

async fn permission_check(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<PermissionCheck>,
    state: web::Data<Shared>,
) -> HttpResponse {
    let (site, content_id) = path.into_inner();
    let site = match authorize(&req, &state, &site) {
        Ok(site) => site,
        Err(refusal) => return refusal.response(),
    };
    let allowed = body.subject.kind == "user"
        && matches!(body.operation.as_str(), "read" | "update")
        && site.can_read(&body.subject.identifier, &content_id);
    HttpResponse::Ok().json(json!({ "hasPermission": allowed }))
}
