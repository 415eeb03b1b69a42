//! The numbers a report counts per group and day, each with the column it is
//! stored in (also its name in CSV and JSON) and its label on the page.

use std::ops::{AddAssign, Index, IndexMut};

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

macro_rules! metrics {
    ($($variant:ident => $column:literal, $label:literal;)*) => {
        /// A count that adds up across days (every one but the head count).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Metric {
            $($variant,)*
        }

        impl Metric {
            pub const ALL: &'static [Metric] = &[$(Metric::$variant,)*];

            /// The roll-up column, and the field name in CSV and JSON.
            pub fn column(self) -> &'static str {
                match self {
                    $(Metric::$variant => $column,)*
                }
            }

            /// What the page and the terminal table call it.
            pub fn label(self) -> &'static str {
                match self {
                    $(Metric::$variant => $label,)*
                }
            }
        }
    };
}

metrics! {
    Messages => "messages", "消息数";
    Speakers => "speakers", "发言人数";
    Joins => "joins", "入群";
    Leaves => "leaves", "退群";
    TasksHandedOut => "tasks_handed_out", "新人任务发放";
    TasksDone => "tasks_done", "新人任务完成";
    Checkins => "checkins", "签到";
    PointsGranted => "points_granted", "积分发放";
    PointsSpent => "points_spent", "积分消耗";
    Coupons => "coupons", "优惠券发放";
    FilterHits => "filter_hits", "违规消息";
    Strikes => "strikes", "违规记录";
    Mutes => "mutes", "禁言";
    Removals => "removals", "移出";
    CommandsRefused => "commands_refused", "命令被拒";
    AdminCommands => "admin_commands", "管理员命令";
    PostsSent => "posts_sent", "定时消息发出";
    PostsDelivered => "posts_delivered", "定时消息送达";
    PostsFailed => "posts_failed", "定时消息失败";
    PostsMissed => "posts_missed", "定时消息错过";
    RedPackets => "red_packets", "红包";
    RedPacketGrabs => "red_packet_grabs", "抢红包人次";
    RedPacketPaidOut => "red_packet_paid_out", "红包积分发出";
    RedPacketRefunded => "red_packet_refunded", "红包积分退回";
    ZombiesReported => "zombies_reported", "僵尸成员发现";
    ZombiesRemoved => "zombies_removed", "僵尸成员移出";
    NewcomersTasked => "newcomers_tasked", "领到任务的新人";
    NewcomersFinished => "newcomers_finished", "完成全部任务的新人";
}

/// One value per [`Metric`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts([i64; Metric::ALL.len()]);

impl Counts {
    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|n| *n == 0)
    }
}

impl Index<Metric> for Counts {
    type Output = i64;
    fn index(&self, m: Metric) -> &i64 {
        &self.0[m as usize]
    }
}

impl IndexMut<Metric> for Counts {
    fn index_mut(&mut self, m: Metric) -> &mut i64 {
        &mut self.0[m as usize]
    }
}

impl AddAssign<&Counts> for Counts {
    fn add_assign(&mut self, other: &Counts) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a += b;
        }
    }
}

/// Serialised as `{"messages": 3, ...}` in the order of [`Metric::ALL`].
impl Serialize for Counts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(Metric::ALL.len()))?;
        for m in Metric::ALL {
            map.serialize_entry(m.column(), &self[*m])?;
        }
        map.end()
    }
}

/// `part ÷ whole`, or `None` when the whole is zero (shown as "—", never as 0 %).
pub fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}
