//! Forge's ids: the app, an installation, a site's cloud id; each parsed once.

use std::fmt;

const APP_PREFIX: &str = "ari:cloud:ecosystem::app/";
const INSTALLATION_PREFIX: &str = "ari:cloud:ecosystem::installation/";

/// The canonical hyphenated form of a uuid, lower case, or nothing.
fn uuid_text(raw: &str) -> Option<uuid::Uuid> {
    (raw.len() == uuid::fmt::Hyphenated::LENGTH)
        .then(|| uuid::Uuid::try_parse(raw).ok())
        .flatten()
}

/// A Forge app id, `ari:cloud:ecosystem::app/<uuid>` (a bare uuid is normalised to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppId(String);

impl AppId {
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        let id = uuid_text(raw.strip_prefix(APP_PREFIX).unwrap_or(raw))?;
        Some(Self(format!("{APP_PREFIX}{id}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Forge installation id, `ari:cloud:ecosystem::installation/<uuid>`: one app on one site,
/// new at each reinstall.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, sqlx::Type)]
#[serde(transparent)]
#[sqlx(transparent)]
pub struct InstallationId(String);

impl InstallationId {
    pub fn parse(raw: &str) -> Option<Self> {
        let id = uuid_text(raw.strip_prefix(INSTALLATION_PREFIX)?)?;
        Some(Self(format!("{INSTALLATION_PREFIX}{id}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InstallationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A site's cloud id: a uuid, in its hyphenated lower-case form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CloudId(uuid::Uuid);

impl CloudId {
    pub fn parse(raw: &str) -> Option<Self> {
        uuid_text(raw).map(Self)
    }
}

impl fmt::Display for CloudId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UUID: &str = "8db33809-1f32-48bb-8c52-5877dab48107";

    #[test]
    fn app_ids_are_aris_and_bare_uuids_are_normalised() {
        let ari = format!("{APP_PREFIX}{UUID}");
        assert_eq!(AppId::parse(&ari).unwrap().as_str(), ari);
        assert_eq!(AppId::parse(UUID).unwrap().as_str(), ari);
        assert_eq!(AppId::parse(&UUID.to_uppercase()).unwrap().as_str(), ari);
        for bad in [
            "",
            "app",
            "ari:cloud:ecosystem::app/",
            &format!("{ari}/x"),
            &format!("{INSTALLATION_PREFIX}{UUID}"),
        ] {
            assert!(AppId::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn installation_ids_need_their_prefix_and_a_uuid() {
        let ari = format!("{INSTALLATION_PREFIX}{UUID}");
        assert_eq!(InstallationId::parse(&ari).unwrap().as_str(), ari);
        for bad in [
            UUID,
            "ari:cloud:ecosystem::installation/x",
            &format!("{ari} "),
        ] {
            assert!(InstallationId::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn cloud_ids_are_hyphenated_uuids() {
        assert_eq!(CloudId::parse(UUID).unwrap().to_string(), UUID);
        for bad in ["", "cloud", &UUID.replace('-', ""), &format!("{UUID}/x")] {
            assert!(CloudId::parse(bad).is_none(), "{bad}");
        }
    }
}
