//! Beyond words: links, phone numbers and WeChat-id patterns in the text, found
//! by regular expressions the operator can extend. Reported as category `link`.
//! QR codes inside images are not detected: that needs the image downloaded and
//! decoded, which the daemon does not do.

use regex::Regex;

/// The category every rule hit is reported under.
pub const LINK: &str = "link";

/// The built-in rules: (name, pattern). Each pattern's first capture group, or the
/// whole match, is the reported span.
pub const DEFAULT_RULES: &[(&str, &str)] = &[
    (
        "url",
        r"(?i)(?:https?://|www\.)[^\s，。、]+|\b[a-z0-9][a-z0-9-]*\.(?:com|cn|net|org|top|xyz|cc|vip|shop|link|me|io)\b(?:/[^\s，。、]*)?",
    ),
    ("phone", r"(?:^|[^0-9])(1[3-9][0-9]{9})(?:[^0-9]|$)"),
    (
        "wechat_id",
        r"(?i)(?:加\s*v|加\s*微|vx|v信|薇信|威信|微信号?|wx|weixin)\s*[:：]?\s*([a-z][-_a-z0-9]{5,19})",
    ),
];

/// A rule's name as operators and admins read it.
pub fn rule_label(rule: &str) -> &str {
    match rule {
        "url" => "链接",
        "phone" => "手机号",
        "wechat_id" => "微信号",
        other => other,
    }
}

/// Matches of one rule reported per message.
pub const MAX_HITS_PER_RULE: usize = 32;

/// A rule that matched: its name and the character span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleHit<'a> {
    pub rule: &'a str,
    pub start: usize,
    pub end: usize,
}

#[derive(Clone, Debug)]
pub struct Rules {
    rules: Vec<(String, Regex)>,
    /// Every rule at once: one pass over a text tells which rules to run, so a
    /// text with no link costs one scan, not one per rule.
    any: regex::RegexSet,
    /// Domains whose links are welcome (the shop's own), lowercased; a
    /// `*.` entry also takes every subdomain.
    allowed: Vec<String>,
    /// Whether phone numbers are left alone (order messages carry them).
    phones_allowed: bool,
}

/// The host of a matched link, lowercased: scheme, `www.`, path, port,
/// query and user part taken off.
fn host_of(link: &str) -> String {
    let lower = link.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .unwrap_or(&lower);
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit('@').next().unwrap_or_default();
    let host = host.split(':').next().unwrap_or_default();
    host.strip_prefix("www.").unwrap_or(host).to_string()
}

/// Whether `host` is `domain` or one of its subdomains.
fn under(host: &str, domain: &str) -> bool {
    host == domain
        || host
            .strip_suffix(domain)
            .is_some_and(|sub| sub.ends_with('.'))
}

impl Rules {
    /// The built-in rules plus `extra` (name, pattern) pairs.
    pub fn new(extra: &[(String, String)]) -> Result<Rules, String> {
        let mut rules = Vec::new();
        let all = DEFAULT_RULES
            .iter()
            .map(|(n, p)| (n.to_string(), p.to_string()))
            .chain(extra.iter().cloned());
        for (name, pattern) in all {
            let re = Regex::new(&pattern).map_err(|e| format!("rule `{name}`: {e}"))?;
            rules.push((name, re));
        }
        let any = regex::RegexSet::new(rules.iter().map(|(_, re)| re.as_str()))
            .map_err(|e| format!("rules: {e}"))?;
        Ok(Rules {
            rules,
            any,
            allowed: Vec::new(),
            phones_allowed: false,
        })
    }

    /// The same rules, with links to `domains` (`shop.example`, `*.shop.example`)
    /// and, when `phones_allowed`, phone numbers left alone.
    pub fn allowing(mut self, domains: &[String], phones_allowed: bool) -> Rules {
        self.allowed = domains
            .iter()
            .map(|d| d.trim().trim_start_matches("*.").to_ascii_lowercase())
            .filter(|d| !d.is_empty())
            .collect();
        self.phones_allowed = phones_allowed;
        self
    }

    /// Whether a hit of `rule` on `matched` is one the shop welcomes.
    fn welcome(&self, rule: &str, matched: &str) -> bool {
        match rule {
            "phone" => self.phones_allowed,
            "url" if !self.allowed.is_empty() => {
                let host = host_of(matched);
                self.allowed.iter().any(|d| under(&host, d))
            }
            _ => false,
        }
    }

    /// Rule matches in `text`, in text order, with character offsets: at most
    /// [`MAX_HITS_PER_RULE`] of each rule, which is plenty to decide on a message.
    /// Linear in the text: offsets are counted on from the previous match, never
    /// from the start (a megabyte of links once cost seconds).
    pub fn find(&self, text: &str) -> Vec<RuleHit<'_>> {
        let mut hits = Vec::new();
        let matched = self.any.matches(text);
        for (name, re) in matched.iter().map(|i| &self.rules[i]) {
            let mut counted = (0, 0); // (byte, chars before it)
            let mut to_char = |byte: usize| {
                let (from_byte, from_char) = counted;
                let chars = from_char + text[from_byte..byte].chars().count();
                counted = (byte, chars);
                chars
            };
            for caps in re.captures_iter(text).take(MAX_HITS_PER_RULE) {
                let Some(m) = caps.get(1).or_else(|| caps.get(0)) else {
                    continue;
                };
                if self.welcome(name, m.as_str()) {
                    continue;
                }
                let start = to_char(m.start());
                let end = to_char(m.end());
                hits.push(RuleHit {
                    rule: name,
                    start,
                    end,
                });
            }
        }
        hits.sort_by_key(|h| h.start);
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Vec<String> {
        Rules::new(&[])
            .unwrap()
            .find(text)
            .into_iter()
            .map(|h| h.rule.to_string())
            .collect()
    }

    #[test]
    fn links_phone_numbers_and_wechat_ids_are_found() {
        assert_eq!(rules("看这里 https://t.cn/abc 便宜"), ["url"]);
        assert_eq!(rules("官网 shop123.top 下单"), ["url"]);
        assert_eq!(rules("电话13812345678找我"), ["phone"]);
        assert_eq!(rules("加v：abc_12345 有福利"), ["wechat_id"]);
        assert_eq!(rules("薇信 shop_888888"), ["wechat_id"]);
    }

    #[test]
    fn ordinary_numbers_and_words_are_not_links() {
        assert!(rules("订单号 2026112312345678 已发货").is_empty());
        assert!(rules("今天 3.5 折，明天见").is_empty());
        assert!(rules("微信支付可以吗").is_empty());
    }

    #[test]
    fn a_megabyte_of_links_is_read_in_one_pass_and_reports_a_bounded_number() {
        let text = "a.cn ".repeat(200_000);
        let rules = Rules::new(&[]).unwrap();
        let hits = rules.find(&text);
        assert_eq!(hits.len(), MAX_HITS_PER_RULE);
        assert_eq!((hits[1].start, hits[1].end), (5, 9));
    }

    #[test]
    fn the_shops_own_domains_and_if_allowed_phone_numbers_are_left_alone() {
        let rules = Rules::new(&[])
            .unwrap()
            .allowing(&["shop.example.com".into(), "*.youzan.com".into()], true);
        let found = |text: &str| -> Vec<String> {
            rules
                .find(text)
                .into_iter()
                .map(|h| h.rule.to_string())
                .collect()
        };
        assert!(found("下单 https://shop.example.com/p/123 立减").is_empty());
        assert!(found("店铺 www.shop.example.com 见").is_empty());
        assert!(found("h5 https://m.youzan.com/x 和 youzan.com").is_empty());
        assert!(found("我的订单 电话13812345678").is_empty());
        assert_eq!(found("别家 https://example.com/p/1"), ["url"]);
        assert_eq!(found("仿冒 https://shop.example.com.evil.top/"), ["url"]);
        assert_eq!(found("仿冒 https://fakeshop.example.com/"), ["url"]);
    }

    #[test]
    fn spans_are_character_offsets() {
        let rules = Rules::new(&[]).unwrap();
        let hits = rules.find("电话13812345678");
        assert_eq!((hits[0].start, hits[0].end), (2, 13));
    }
}
