//! The iframe pages' CSS and JavaScript, embedded in the binary and served under a name that
//! carries a hash of the content (`/static/panel.3f9a0c2b1d.js`), so they can be cached forever.

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use sha2::{Digest, Sha256};

use super::error::{ApiError, AppError, Missing};

pub const STYLESHEET: &str = "pageshare.css";
pub const COMMON_JS: &str = "common.js";
pub const PANEL_JS: &str = "panel.js";
pub const ADMIN_JS: &str = "admin.js";

const FILES: [(&str, &str); 4] = [
    (STYLESHEET, include_str!("assets/pageshare.css")),
    (COMMON_JS, include_str!("assets/common.js")),
    (PANEL_JS, include_str!("assets/panel.js")),
    (ADMIN_JS, include_str!("assets/admin.js")),
];

struct Asset {
    name: &'static str,
    /// `stem.hash.ext`, the name it is served under.
    served_as: String,
    body: &'static str,
}

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|&(name, body)| {
            let hash = hex::encode(&Sha256::digest(body)[..5]);
            let (stem, ext) = name
                .rsplit_once('.')
                .expect("asset names have an extension");
            Asset {
                name,
                served_as: format!("{stem}.{hash}.{ext}"),
                body,
            }
        })
        .collect()
});

/// The URL of an embedded asset, e.g. `{base_url}/static/pageshare.0a1b2c3d4e.css`.
pub fn url(base_url: &str, name: &str) -> String {
    let asset = ASSETS
        .iter()
        .find(|asset| asset.name == name)
        .expect("the name of an embedded asset");
    format!("{base_url}/static/{}", asset.served_as)
}

/// The contents of an embedded asset.
pub fn body(name: &str) -> &'static str {
    ASSETS
        .iter()
        .find(|asset| asset.name == name)
        .expect("the name of an embedded asset")
        .body
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/static/{file}", web::get().to(serve));
}

async fn serve(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let asset = ASSETS
        .iter()
        .find(|asset| asset.served_as == *file)
        .ok_or(ApiError(AppError::NotFound(Missing::Route)))?;
    let content_type = if asset.name.ends_with(".css") {
        "text/css; charset=utf-8"
    } else {
        "text/javascript; charset=utf-8"
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .content_type(content_type)
        .body(asset.body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_hashed_url() {
        for (name, _) in FILES {
            let url = url("https://apps.example.com/pageshare", name);
            let file = url
                .strip_prefix("https://apps.example.com/pageshare/static/")
                .unwrap();
            let (stem, ext) = name.rsplit_once('.').unwrap();
            let hash = file
                .strip_prefix(&format!("{stem}."))
                .and_then(|rest| rest.strip_suffix(&format!(".{ext}")))
                .unwrap();
            assert_eq!(hash.len(), 10, "{url}");
        }
    }
}
