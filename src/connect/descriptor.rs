//! `atlassian-connect.json`, with `baseUrl` and `key` from the configuration.

use anyhow::Context;

const TEMPLATE: &str = include_str!("../../atlassian-connect.json");

/// The descriptor as served, rendered once at start.
pub fn render(base_url: &str, app_key: &str) -> anyhow::Result<String> {
    let mut descriptor: serde_json::Value =
        serde_json::from_str(TEMPLATE).context("atlassian-connect.json is not valid JSON")?;
    let object = descriptor
        .as_object_mut()
        .context("atlassian-connect.json is not a JSON object")?;
    object.insert("baseUrl".into(), base_url.into());
    object.insert("key".into(), app_key.into());
    Ok(descriptor.to_string())
}
