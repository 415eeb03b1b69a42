//! What a reload changed, told to the owner by section name in Chinese
//! (`秒杀`, `敏感词表`…), never by a diff of values (secrets live in some).

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use super::Config;

/// A digest of each top-level section of the file and of each file it names.
pub(super) fn digests(text: &str, config: &Config) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    if let Ok(table) = text.parse::<toml::Table>() {
        for (key, value) in table {
            out.insert(section_name(&key), digest(&value.to_string()));
        }
    }
    if let Some(filter) = &config.filter {
        let words = std::fs::read_to_string(&filter.words_file).unwrap_or_default();
        out.insert("敏感词表".into(), digest(&words));
    }
    for pool in config.coupons.values() {
        out.insert(format!("优惠券码「{}」", pool.name), digest(&pool.codes));
    }
    out
}

fn digest(value: &(impl Hash + ?Sized)) -> u64 {
    let mut h = DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

/// A section's name as the owner reads it.
fn section_name(key: &str) -> String {
    let name = match key {
        "timezone" => "时区",
        "gateway" => "网关",
        "storage" => "存储",
        "outbox" => "发送节奏",
        "admins" => "管理员",
        "groups" => "群列表",
        "welcome" => "欢迎语",
        "join_requests" => "入群申请",
        "verification" => "入群验证",
        "tasks" => "新人任务",
        "points" => "积分",
        "coupons" => "优惠券",
        "commands" => "命令",
        "schedule" => "定时规则",
        "announcements" => "公告",
        "flash_sales" => "秒杀",
        "red_packets" => "红包",
        "reactivation" => "沉默成员唤醒",
        "filter" => "过滤规则",
        "notify" => "通知",
        other => other,
    };
    name.to_string()
}

impl Config {
    /// The sections (and named files) that differ from `older`.
    pub fn changes_from(&self, older: &Config) -> Vec<String> {
        let mut changed: Vec<String> = self
            .sections
            .iter()
            .filter(|(k, v)| older.sections.get(*k) != Some(v))
            .map(|(k, _)| k.clone())
            .collect();
        changed.extend(
            older
                .sections
                .keys()
                .filter(|k| !self.sections.contains_key(*k))
                .cloned(),
        );
        changed
    }
}
