//! The slash-command vocabulary: canonical names, Chinese aliases, who may use them.

/// Who may use a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    Everyone,
    Admins,
}

/// A known command: its name, its aliases, who may use it, and its usage line.
#[derive(Debug)]
pub struct CommandSpec {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub audience: Audience,
    pub usage: &'static str,
    pub summary: &'static str,
}

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "help",
        aliases: &["帮助"],
        audience: Audience::Everyone,
        usage: "/帮助",
        summary: "列出可用命令",
    },
    CommandSpec {
        name: "rules",
        aliases: &["群规"],
        audience: Audience::Everyone,
        usage: "/群规",
        summary: "查看群规",
    },
    CommandSpec {
        name: "tasks",
        aliases: &["任务"],
        audience: Audience::Everyone,
        usage: "/任务",
        summary: "查看新人任务进度",
    },
    CommandSpec {
        name: "points",
        aliases: &["积分"],
        audience: Audience::Everyone,
        usage: "/积分",
        summary: "查看我的积分",
    },
    CommandSpec {
        name: "rank",
        aliases: &["排行"],
        audience: Audience::Everyone,
        usage: "/排行",
        summary: "本群积分排行",
    },
    CommandSpec {
        name: "checkin",
        aliases: &["签到"],
        audience: Audience::Everyone,
        usage: "/签到",
        summary: "每日签到领积分",
    },
    CommandSpec {
        name: "ping",
        aliases: &["在吗"],
        audience: Audience::Everyone,
        usage: "/在吗",
        summary: "检查机器人是否在线",
    },
    CommandSpec {
        name: "mute",
        aliases: &["禁言"],
        audience: Audience::Admins,
        usage: "/禁言 @成员 时长（如 10分钟、2小时、1天）",
        summary: "禁言成员",
    },
    CommandSpec {
        name: "unmute",
        aliases: &["解禁"],
        audience: Audience::Admins,
        usage: "/解禁 @成员",
        summary: "解除禁言",
    },
    CommandSpec {
        name: "kick",
        aliases: &["踢"],
        audience: Audience::Admins,
        usage: "/踢 @成员",
        summary: "移出成员",
    },
    CommandSpec {
        name: "warn",
        aliases: &["警告"],
        audience: Audience::Admins,
        usage: "/警告 @成员 [原因]",
        summary: "警告成员",
    },
    CommandSpec {
        name: "announce",
        aliases: &["公告"],
        audience: Audience::Admins,
        usage: "/公告 内容",
        summary: "发布群公告",
    },
    CommandSpec {
        name: "pause",
        aliases: &["暂停"],
        audience: Audience::Admins,
        usage: "/暂停",
        summary: "暂停机器人的自动消息",
    },
    CommandSpec {
        name: "resume",
        aliases: &["恢复"],
        audience: Audience::Admins,
        usage: "/恢复",
        summary: "恢复机器人的自动消息",
    },
    CommandSpec {
        name: "schedule",
        aliases: &["计划"],
        audience: Audience::Admins,
        usage: "/计划",
        summary: "本群接下来的定时消息",
    },
    CommandSpec {
        name: "flashsale",
        aliases: &["秒杀"],
        audience: Audience::Admins,
        usage: "/秒杀 列表 | 立即 编号 | 取消 编号",
        summary: "查看、立即发布或取消限时秒杀",
    },
    CommandSpec {
        name: "redpacket",
        aliases: &["红包"],
        audience: Audience::Admins,
        usage: "/红包 总积分 份数 [口令] | 状态",
        summary: "发拼手气红包（积分）",
    },
    CommandSpec {
        name: "silent",
        aliases: &["沉默"],
        audience: Audience::Admins,
        usage: "/沉默 名单 | 扫描 | 效果 | 僵尸 | 确认",
        summary: "沉默成员：到期名单、立即扫描、唤醒效果、僵尸成员",
    },
    CommandSpec {
        name: "stats",
        aliases: &["统计"],
        audience: Audience::Admins,
        usage: "/统计 [天数，如 7天、30天]",
        summary: "本群数据：消息、发言人数、活跃率、入群退群",
    },
    CommandSpec {
        name: "strikes",
        aliases: &["违规"],
        audience: Audience::Admins,
        usage: "/违规 @成员",
        summary: "查看成员的违规次数",
    },
    CommandSpec {
        name: "pardon",
        aliases: &["赦免"],
        audience: Audience::Admins,
        usage: "/赦免 @成员",
        summary: "清除成员的违规记录",
    },
    CommandSpec {
        name: "words",
        aliases: &["敏感词"],
        audience: Audience::Admins,
        usage: "/敏感词 检查 文字 | 添加 分类 词 | 删除 词",
        summary: "检查文字、增删敏感词",
    },
    CommandSpec {
        name: "reload",
        aliases: &["重载"],
        audience: Audience::Admins,
        usage: "/重载",
        summary: "重新加载配置",
    },
];

/// Commands everyone may use that members' `/帮助` does not list: `/在吗`
/// (`/ping`) is a check for whoever runs the bot, not a service for customers;
/// the admins' list names it.
const UNLISTED_FOR_MEMBERS: &[&str] = &["ping"];

/// Chinese words for subcommands, and the subcommand each stands for.
const SUBCOMMANDS: &[(&str, &str, &str)] = &[
    ("flashsale", "列表", "list"),
    ("flashsale", "立即", "now"),
    ("flashsale", "现在", "now"),
    ("flashsale", "取消", "cancel"),
    ("redpacket", "状态", "status"),
    ("silent", "名单", "list"),
    ("silent", "列表", "list"),
    ("silent", "扫描", "nudge"),
    ("silent", "唤醒", "nudge"),
    ("silent", "效果", "stats"),
    ("silent", "统计", "stats"),
    ("silent", "僵尸", "zombies"),
    ("silent", "确认", "confirm"),
    ("words", "检查", "test"),
    ("words", "测试", "test"),
    ("words", "添加", "add"),
    ("words", "加", "add"),
    ("words", "删除", "del"),
    ("words", "删", "del"),
];

impl CommandSpec {
    /// The name members read: the first Chinese alias (`签到`), else the name.
    pub fn chinese(&self) -> &'static str {
        self.aliases.first().copied().unwrap_or(self.name)
    }

    /// Whether members' `/帮助` lists it.
    pub fn listed_for_members(&self) -> bool {
        self.audience == Audience::Everyone && !UNLISTED_FOR_MEMBERS.contains(&self.name)
    }

    /// The subcommand a typed word stands for (`确认` → `confirm`), else the
    /// word itself.
    pub fn subcommand<'a>(&self, word: &'a str) -> &'a str {
        SUBCOMMANDS
            .iter()
            .find(|(command, zh, _)| *command == self.name && *zh == word)
            .map_or(word, |(_, _, latin)| latin)
    }
}

/// The Chinese name of the command named `name` (canonical), for the texts
/// that name one: `chinese("checkin")` is `签到`.
pub fn chinese(name: &str) -> &'static str {
    COMMANDS
        .iter()
        .find(|c| c.name == name)
        .map_or("帮助", CommandSpec::chinese)
}

/// The command a typed name (canonical or alias, any ASCII case) stands for.
pub fn lookup(name: &str) -> Option<&'static CommandSpec> {
    let lower = name.to_ascii_lowercase();
    COMMANDS
        .iter()
        .find(|c| c.name == lower || c.aliases.contains(&name))
}

/// The known command closest to a mistyped name, if any is close enough to
/// suggest (its canonical name; members are told its Chinese one).
pub fn nearest(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    COMMANDS
        .iter()
        .flat_map(|c| {
            std::iter::once(c.name)
                .chain(c.aliases.iter().copied())
                .map(move |n| (n, c.name))
        })
        .map(|(typed, canonical)| (strsim::levenshtein(&lower, typed), canonical))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, canonical)| canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_and_case_find_the_canonical_command() {
        assert_eq!(lookup("禁言").unwrap().name, "mute");
        assert_eq!(lookup("MUTE").unwrap().name, "mute");
        assert!(lookup("mutee").is_none());
    }

    #[test]
    fn a_near_miss_suggests_the_command_and_a_far_one_nothing() {
        assert_eq!(nearest("mutee"), Some("mute"));
        assert_eq!(nearest("chekin"), Some("checkin"));
        assert_eq!(nearest("签"), Some("checkin"));
        assert_eq!(nearest("xyzzyplugh"), None);
    }

    #[test]
    fn every_command_has_a_chinese_name_its_usage_starts_with() {
        for c in COMMANDS {
            assert!(!c.chinese().is_ascii(), "{}", c.name);
            assert!(
                c.usage.starts_with(&format!("/{}", c.chinese())),
                "{}",
                c.usage
            );
        }
    }

    #[test]
    fn chinese_subcommands_stand_for_the_latin_ones() {
        let silent = lookup("沉默").unwrap();
        assert_eq!(silent.subcommand("确认"), "confirm");
        assert_eq!(silent.subcommand("confirm"), "confirm");
        assert_eq!(lookup("秒杀").unwrap().subcommand("确认"), "确认");
    }
}
