//! `[[flash_sales]]`: a sale's countdown posts, its start, last call and end,
//! each due at a time computed from the config alone.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use toml::Spanned;

use super::raw::{RawFlashSale, RawSaleTexts};
use super::schedule::{parse_instant, Groups};
use super::{Checker, GroupConfig, Problem};
use crate::domain::Template;

/// Variables of a flash sale's posts.
pub const SALE_VARS: &[&str] = &["title", "price", "link", "starts_at", "left", "ends_at"];

#[derive(Clone, Debug)]
pub struct FlashSale {
    pub id: String,
    pub title: String,
    pub price: String,
    pub link: String,
    pub starts_at: DateTime<Utc>,
    pub duration: Duration,
    pub remind_before: Vec<Duration>,
    pub last_call: Option<Duration>,
    pub groups: Groups,
    /// Whether its posts wait out `schedule.quiet_hours` (`quiet_hours = false`: no).
    pub quiet_hours: bool,
    pub preview: Template,
    pub start: Template,
    pub last_call_text: Template,
    pub end: Template,
    pub fingerprint: String,
}

/// One post of a flash sale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SalePhase {
    /// A countdown post this long before the start.
    Preview(Duration),
    Start,
    LastCall,
    End,
}

impl FlashSale {
    pub fn ends_at(&self) -> DateTime<Utc> {
        self.starts_at + chrono::Duration::from_std(self.duration).unwrap_or_default()
    }

    /// Every post, with when it is due and the latest it may still go out: a
    /// countdown never after the start, the start and the last call never after
    /// the end, the end post within ten minutes of the end.
    pub fn posts(&self) -> Vec<(SalePhase, DateTime<Utc>, DateTime<Utc>)> {
        let ends = self.ends_at();
        let mut posts: Vec<_> = self
            .remind_before
            .iter()
            .map(|lead| {
                let due = self.starts_at - chrono::Duration::from_std(*lead).unwrap_or_default();
                (SalePhase::Preview(*lead), due, self.starts_at)
            })
            .collect();
        posts.push((SalePhase::Start, self.starts_at, ends));
        if let Some(lead) = self.last_call {
            let due = ends - chrono::Duration::from_std(lead).unwrap_or_default();
            if due > self.starts_at {
                posts.push((SalePhase::LastCall, due, ends));
            }
        }
        posts.push((SalePhase::End, ends, ends + chrono::Duration::minutes(10)));
        posts
    }

    pub fn template(&self, phase: SalePhase) -> &Template {
        match phase {
            SalePhase::Preview(_) => &self.preview,
            SalePhase::Start => &self.start,
            SalePhase::LastCall => &self.last_call_text,
            SalePhase::End => &self.end,
        }
    }
}

impl SalePhase {
    /// What admins read for the phase: 预告, 开抢, 最后机会, 已结束.
    pub fn title(&self) -> &'static str {
        match self {
            SalePhase::Preview(_) => "预告",
            SalePhase::Start => "开抢",
            SalePhase::LastCall => "最后机会",
            SalePhase::End => "已结束",
        }
    }

    /// A stable name, part of the post's schedule key.
    pub fn key(&self) -> String {
        match self {
            SalePhase::Preview(lead) => format!("preview-{}", humantime::format_duration(*lead)),
            SalePhase::Start => "start".into(),
            SalePhase::LastCall => "last_call".into(),
            SalePhase::End => "end".into(),
        }
    }
}

impl Checker<'_> {
    pub(super) fn flash_sales(
        &mut self,
        raw: &[RawFlashSale],
        tz: Tz,
        now: DateTime<Utc>,
        managed: &[GroupConfig],
    ) -> Option<Vec<FlashSale>> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut ok = true;
        for s in raw {
            if !self.unique_id(&mut seen, &s.id, "flash sale") {
                ok = false;
                continue;
            }
            match self.flash_sale(s, tz, now, managed) {
                Some(sale) => out.push(sale),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// One sale whose id is already checked.
    fn flash_sale(
        &mut self,
        s: &RawFlashSale,
        tz: Tz,
        now: DateTime<Utc>,
        managed: &[GroupConfig],
    ) -> Option<FlashSale> {
        let starts_at = self.sale_start(s, tz, now);
        let groups = self.groups(s.groups.as_ref(), managed);
        let texts = self.sale_texts(&s.texts);
        let duration = s.duration.0;
        if duration.is_zero() {
            self.problem(
                &s.id,
                "a flash sale's duration must be more than zero".into(),
            );
            return None;
        }
        let (starts_at, groups, [preview, start, last_call_text, end]) =
            (starts_at?, groups?, texts?);
        let mut remind_before: Vec<Duration> = s.remind_before.iter().map(|d| d.0).collect();
        remind_before.sort_by(|a, b| b.cmp(a));
        remind_before.dedup();
        let last_call = s.last_call.map(|d| d.0);
        let fingerprint = format!(
            "{}|{}|{}|{}|{}|{:?}|{:?}|{:?}",
            s.title,
            s.price.clone().unwrap_or_default(),
            s.link.clone().unwrap_or_default(),
            starts_at.to_rfc3339(),
            duration.as_secs(),
            remind_before,
            last_call,
            (groups.describe(), &preview, &start, &last_call_text, &end)
        );
        Some(FlashSale {
            id: s.id.get_ref().trim().to_string(),
            title: s.title.clone(),
            price: s.price.clone().unwrap_or_default(),
            link: s.link.clone().unwrap_or_default(),
            starts_at,
            duration,
            remind_before,
            last_call,
            groups,
            quiet_hours: s.quiet_hours.unwrap_or(true),
            preview,
            start,
            last_call_text,
            end,
            fingerprint,
        })
    }

    /// The sale's start; one in the past is a warning, not a problem.
    fn sale_start(
        &mut self,
        s: &RawFlashSale,
        tz: Tz,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let starts_at = self.check(&s.starts_at, |v| parse_instant(v, tz));
        if let Some(at) = starts_at {
            if at < now {
                let reason = format!(
                    "warning: flash sale `{}` starts at {}, in the past; only its posts still due are sent",
                    s.id.get_ref(),
                    at.with_timezone(&tz).format("%Y-%m-%d %H:%M")
                );
                self.warnings.push(Problem::at_span(
                    self.file,
                    self.text,
                    Some(s.starts_at.span()),
                    reason,
                ));
            }
        }
        starts_at
    }

    /// The preview, start, last call and end templates, each checked.
    fn sale_texts(&mut self, t: &RawSaleTexts) -> Option<[Template; 4]> {
        let mut text = |value: &Option<Spanned<String>>, default: &str| {
            super::community::template(self, value.as_ref(), default, SALE_VARS)
        };
        let preview = text(
            &t.preview,
            "【预告】{title} {starts_at} 开抢，还有 {left}！{price} {link}",
        );
        let start = text(
            &t.start,
            "【开抢】{title} 现在开始！{price} {link}（{ends_at} 结束）",
        );
        let last_call = text(
            &t.last_call,
            "【最后机会】{title} 还剩 {left} 结束！{price} {link}",
        );
        let end = text(&t.end, "【已结束】{title} 秒杀结束，感谢参与！");
        Some([preview?, start?, last_call?, end?])
    }
}
