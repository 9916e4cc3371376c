//! The demo's integrations' configuration: `console_configs` and `eml_configs`.

use std::path::PathBuf;

use serde::Deserialize;

use crate::config::loader::Loader;
use crate::notify::email::config::split_addresses;
use crate::notify::receivers::RawGlobal;

#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    pub send_resolved: bool,
}

#[derive(Debug, Clone)]
pub struct EmlConfig {
    pub dir: PathBuf,
    pub to: Vec<String>,
    pub from: String,
    pub send_resolved: bool,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawConsole {
    pub send_resolved: Option<bool>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawEml {
    pub send_resolved: Option<bool>,
    pub dir: String,
    pub to: Option<String>,
    pub from: Option<String>,
}

/// Validates `console_configs`.
pub fn parse_console(raw: &[RawConsole]) -> Vec<ConsoleConfig> {
    raw.iter()
        .map(|c| ConsoleConfig {
            send_resolved: c.send_resolved.unwrap_or(true),
        })
        .collect()
}

/// Validates `eml_configs` (directories relative to the config file).
pub fn parse_eml(l: &mut Loader<'_>, raw: &[RawEml], g: &RawGlobal) -> Vec<EmlConfig> {
    raw.iter()
        .map(|c| {
            let dir = l.s("dir", &c.dir);
            EmlConfig {
                dir: l.base.join(dir),
                to: split_addresses(&c.to.clone().unwrap_or_else(|| "oncall@example.com".into())),
                from: c
                    .from
                    .clone()
                    .or_else(|| g.smtp_from.clone())
                    .unwrap_or_else(|| "syncwatch@localhost".into()),
                send_resolved: c.send_resolved.unwrap_or(true),
            }
        })
        .collect()
}
