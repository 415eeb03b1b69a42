//! The file's shape, as operators write it. `Config::parse` turns it into the
//! validated [`Config`](super::Config).

use std::time::Duration;

use serde::{Deserialize, Deserializer};
use toml::Spanned;

use crate::domain::Id;

/// A human duration (`"2s"`, `"10m"`, `"7d"`, `"1h 30m"`).
#[derive(Clone, Copy, Debug)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(&text)
            .map(HumanDuration)
            .map_err(|e| {
                serde::de::Error::custom(format!(
                    "`{text}` is not a duration ({e}); write e.g. \"30s\", \"10m\", \"7d\""
                ))
            })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub timezone: Option<Spanned<String>>,
    pub gateway: RawGateway,
    #[serde(default)]
    pub storage: RawStorage,
    #[serde(default)]
    pub outbox: RawOutbox,
    #[serde(default)]
    pub admins: RawAdmins,
    #[serde(default)]
    pub groups: Vec<RawGroup>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Onebot11,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGateway {
    #[allow(dead_code)] // one protocol so far; the key is there so configs say which
    pub protocol: Option<Protocol>,
    pub api_url: Option<Spanned<String>>,
    pub access_token: Option<Spanned<String>>,
    pub listen: Option<Spanned<String>>,
    pub secret: Option<Spanned<String>>,
    pub timeout: Option<HumanDuration>,
    #[serde(default)]
    pub accounts: Vec<RawAccount>,
}

/// A bot account whose gateway is not the default one.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAccount {
    pub self_id: Spanned<Id>,
    pub api_url: Spanned<String>,
    pub access_token: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStorage {
    pub database: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutbox {
    pub group_interval: Option<HumanDuration>,
    pub account_interval: Option<HumanDuration>,
    pub retry_initial: Option<HumanDuration>,
    pub retry_max: Option<HumanDuration>,
    pub give_up_after: Option<HumanDuration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmins {
    #[serde(default)]
    pub users: Vec<Id>,
    pub trust_group_roles: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGroup {
    pub id: Spanned<Id>,
    pub name: Option<String>,
}
