//! Prometheus metrics of one instance (`docs/OPERATIONS.md`, "Metrics"), served on
//! `PAGESHARE_METRICS_BIND` at `GET /metrics`. Every label value comes from a fixed set (a route
//! *template*, a call kind, an outcome): never a raw path, an id or a token.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// The route template (`/content/{uuid}`), `unmatched` for a path no route serves.
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    cache: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    kind: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

/// The in-memory caches whose hits and misses are counted.
#[derive(Debug, Clone, Copy)]
pub enum Cache {
    /// Shares as readers need them (`reader_cache.rs`).
    Shares,
    /// Installations (`reader_cache.rs`).
    Installations,
    /// Sanitised page content (`content_cache.rs`).
    Content,
    /// The page lists of tree shares (`content_cache.rs`).
    Trees,
    /// Sites' unlock keys, looked up when a reader brings an unlock token (`reader_cache.rs`).
    SiteKeys,
}

/// What a call to Confluence asked.
#[derive(Debug, Clone, Copy)]
pub enum CallKind {
    SiteAdmin,
    Permission,
    Content,
    /// A page of Confluence's descendant listing (for a tree share).
    Descendants,
    Attachment,
}

/// Whose keys were fetched.
#[derive(Debug, Clone, Copy)]
pub enum KeySource {
    /// Atlassian's install key server (one public key per `kid`).
    ConnectInstall,
    /// Forge's key set (JWKS).
    ForgeKeySet,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_seconds: Family<RouteLabels, Histogram>,
    cache: Family<CacheLabels, Counter>,
    confluence_calls: Family<CallLabels, Counter>,
    confluence_seconds: Family<KindLabels, Histogram>,
    key_fetches: Family<CallLabels, Counter>,
    password_failures: Counter,
    rate_limited: Counter,
    change_listener_up: Gauge,
    pool_connections: Family<StateLabels, Gauge>,
}

/// 1 ms to about 33 s, doubling.
fn seconds_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("pageshare");
        let requests = Family::<RequestLabels, Counter>::default();
        let request_seconds =
            Family::<RouteLabels, Histogram>::new_with_constructor(seconds_histogram as fn() -> _);
        let cache = Family::<CacheLabels, Counter>::default();
        let confluence_calls = Family::<CallLabels, Counter>::default();
        let confluence_seconds =
            Family::<KindLabels, Histogram>::new_with_constructor(seconds_histogram as fn() -> _);
        let key_fetches = Family::<CallLabels, Counter>::default();
        let password_failures = Counter::default();
        let rate_limited = Counter::default();
        let change_listener_up = Gauge::default();
        let pool_connections = Family::<StateLabels, Gauge>::default();
        registry.register(
            "http_requests",
            "Requests answered, by route template, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer a request (until its headers), by route template and method",
            request_seconds.clone(),
        );
        registry.register(
            "cache_lookups",
            "Lookups of the in-memory caches, by cache and outcome (hit or miss)",
            cache.clone(),
        );
        registry.register(
            "confluence_calls",
            "Calls to Confluence, by kind and outcome",
            confluence_calls.clone(),
        );
        registry.register(
            "confluence_call_duration_seconds",
            "Time a call to Confluence took (for downloads, until the headers), by kind",
            confluence_seconds.clone(),
        );
        registry.register(
            "key_fetches",
            "Fetches of Atlassian's public keys, by source and outcome",
            key_fetches.clone(),
        );
        registry.register(
            "password_failures",
            "Wrong passwords entered on share pages",
            password_failures.clone(),
        );
        registry.register(
            "rate_limited",
            "Password posts refused with 429 because of too many attempts",
            rate_limited.clone(),
        );
        registry.register(
            "change_listener_up",
            "1 while the share change listener is connected and proven, else 0 (caches off)",
            change_listener_up.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Connections of the database pool, by state (idle or in_use)",
            pool_connections.clone(),
        );
        Self {
            registry,
            requests,
            request_seconds,
            cache,
            confluence_calls,
            confluence_seconds,
            key_fetches,
            password_failures,
            rate_limited,
            change_listener_up,
            pool_connections,
        }
    }
}

/// The method as a label: the standard ones by name, any other as `other`.
pub fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

impl Metrics {
    pub fn request(&self, route: String, method: &'static str, status: u16, took: Duration) {
        self.request_seconds
            .get_or_create(&RouteLabels {
                route: route.clone(),
                method,
            })
            .observe(took.as_secs_f64());
        self.requests
            .get_or_create(&RequestLabels {
                route,
                method,
                status,
            })
            .inc();
    }

    pub fn cache_lookup(&self, cache: Cache, hit: bool) {
        let cache = match cache {
            Cache::Shares => "shares",
            Cache::Installations => "installations",
            Cache::Content => "content",
            Cache::Trees => "trees",
            Cache::SiteKeys => "site_keys",
        };
        let outcome = if hit { "hit" } else { "miss" };
        self.cache
            .get_or_create(&CacheLabels { cache, outcome })
            .inc();
    }

    /// A call to Confluence ended with `outcome` (`ok` or the kind of failure) after `took`.
    pub fn confluence_call(&self, kind: CallKind, outcome: &'static str, took: Duration) {
        let kind = match kind {
            CallKind::SiteAdmin => "site_admin",
            CallKind::Permission => "permission",
            CallKind::Content => "content",
            CallKind::Descendants => "descendants",
            CallKind::Attachment => "attachment",
        };
        self.confluence_calls
            .get_or_create(&CallLabels { kind, outcome })
            .inc();
        self.confluence_seconds
            .get_or_create(&KindLabels { kind })
            .observe(took.as_secs_f64());
    }

    pub fn key_fetch(&self, source: KeySource, ok: bool) {
        let kind = match source {
            KeySource::ConnectInstall => "connect_install",
            KeySource::ForgeKeySet => "forge_key_set",
        };
        let outcome = if ok { "ok" } else { "failed" };
        self.key_fetches
            .get_or_create(&CallLabels { kind, outcome })
            .inc();
    }

    pub fn password_failure(&self) {
        self.password_failures.inc();
    }

    pub fn rate_limited(&self) {
        self.rate_limited.inc();
    }

    /// The metrics in Prometheus' text format, with the gauges read now.
    pub fn render(&self, listener_up: bool, pool_size: u32, pool_idle: usize) -> String {
        self.change_listener_up.set(i64::from(listener_up));
        let idle = i64::try_from(pool_idle).unwrap_or(i64::MAX);
        self.pool_connections
            .get_or_create(&StateLabels { state: "idle" })
            .set(idle);
        self.pool_connections
            .get_or_create(&StateLabels { state: "in_use" })
            .set(i64::from(pool_size).saturating_sub(idle).max(0));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_recording_shows_in_its_series() {
        let metrics = Metrics::default();
        metrics.request(
            "/content/{uuid}".into(),
            "GET",
            200,
            Duration::from_millis(3),
        );
        metrics.request(
            "/content/{uuid}".into(),
            "GET",
            200,
            Duration::from_millis(3),
        );
        metrics.cache_lookup(Cache::Content, false);
        metrics.confluence_call(CallKind::Content, "ok", Duration::from_millis(20));
        metrics.key_fetch(KeySource::ForgeKeySet, false);
        metrics.password_failure();
        metrics.rate_limited();
        let text = metrics.render(true, 5, 3);
        for line in [
            r#"pageshare_http_requests_total{route="/content/{uuid}",method="GET",status="200"} 2"#,
            r#"pageshare_http_request_duration_seconds_count{route="/content/{uuid}",method="GET"} 2"#,
            r#"pageshare_cache_lookups_total{cache="content",outcome="miss"} 1"#,
            r#"pageshare_confluence_calls_total{kind="content",outcome="ok"} 1"#,
            r#"pageshare_key_fetches_total{kind="forge_key_set",outcome="failed"} 1"#,
            "pageshare_password_failures_total 1",
            "pageshare_rate_limited_total 1",
            "pageshare_change_listener_up 1",
            r#"pageshare_db_pool_connections{state="in_use"} 2"#,
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from\n{text}"
            );
        }
    }
}
