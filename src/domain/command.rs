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
        usage: "/help",
        summary: "列出可用命令",
    },
    CommandSpec {
        name: "rules",
        aliases: &["群规"],
        audience: Audience::Everyone,
        usage: "/rules",
        summary: "查看群规",
    },
    CommandSpec {
        name: "tasks",
        aliases: &["任务"],
        audience: Audience::Everyone,
        usage: "/tasks",
        summary: "查看新人任务进度",
    },
    CommandSpec {
        name: "points",
        aliases: &["积分"],
        audience: Audience::Everyone,
        usage: "/points",
        summary: "查看我的积分",
    },
    CommandSpec {
        name: "rank",
        aliases: &["排行"],
        audience: Audience::Everyone,
        usage: "/rank",
        summary: "本群积分排行",
    },
    CommandSpec {
        name: "checkin",
        aliases: &["签到"],
        audience: Audience::Everyone,
        usage: "/checkin",
        summary: "每日签到领积分",
    },
    CommandSpec {
        name: "ping",
        aliases: &[],
        audience: Audience::Everyone,
        usage: "/ping",
        summary: "检查机器人是否在线",
    },
    CommandSpec {
        name: "mute",
        aliases: &["禁言"],
        audience: Audience::Admins,
        usage: "/mute @成员 时长（如 10m、2h、1d）",
        summary: "禁言成员",
    },
    CommandSpec {
        name: "unmute",
        aliases: &["解禁"],
        audience: Audience::Admins,
        usage: "/unmute @成员",
        summary: "解除禁言",
    },
    CommandSpec {
        name: "kick",
        aliases: &["踢"],
        audience: Audience::Admins,
        usage: "/kick @成员",
        summary: "移出成员",
    },
    CommandSpec {
        name: "warn",
        aliases: &["警告"],
        audience: Audience::Admins,
        usage: "/warn @成员 [原因]",
        summary: "警告成员",
    },
    CommandSpec {
        name: "announce",
        aliases: &["公告"],
        audience: Audience::Admins,
        usage: "/announce 内容",
        summary: "发布群公告",
    },
    CommandSpec {
        name: "pause",
        aliases: &["暂停"],
        audience: Audience::Admins,
        usage: "/pause",
        summary: "暂停机器人的自动消息",
    },
    CommandSpec {
        name: "resume",
        aliases: &["恢复"],
        audience: Audience::Admins,
        usage: "/resume",
        summary: "恢复机器人的自动消息",
    },
    CommandSpec {
        name: "schedule",
        aliases: &["计划"],
        audience: Audience::Admins,
        usage: "/schedule",
        summary: "本群接下来的定时消息",
    },
    CommandSpec {
        name: "flashsale",
        aliases: &["秒杀"],
        audience: Audience::Admins,
        usage: "/flashsale list | now 编号 | cancel 编号",
        summary: "查看、立即发布或取消限时秒杀",
    },
    CommandSpec {
        name: "redpacket",
        aliases: &["红包"],
        audience: Audience::Admins,
        usage: "/redpacket 总积分 份数 [口令] | status",
        summary: "发拼手气红包（积分）",
    },
    CommandSpec {
        name: "silent",
        aliases: &["沉默"],
        audience: Audience::Admins,
        usage: "/silent list | nudge | stats | zombies | confirm",
        summary: "沉默成员：到期名单、立即扫描、唤醒效果、僵尸成员",
    },
    CommandSpec {
        name: "stats",
        aliases: &["统计"],
        audience: Audience::Admins,
        usage: "/stats [天数，如 7d、30d]",
        summary: "本群数据：消息、发言人数、活跃率、入群退群",
    },
    CommandSpec {
        name: "strikes",
        aliases: &["违规"],
        audience: Audience::Admins,
        usage: "/strikes @成员",
        summary: "查看成员的违规次数",
    },
    CommandSpec {
        name: "pardon",
        aliases: &["赦免"],
        audience: Audience::Admins,
        usage: "/pardon @成员",
        summary: "清除成员的违规记录",
    },
    CommandSpec {
        name: "words",
        aliases: &["敏感词"],
        audience: Audience::Admins,
        usage: "/words test 文字 | /words add 分类 词 | /words del 词",
        summary: "检查文字、增删敏感词",
    },
    CommandSpec {
        name: "reload",
        aliases: &["重载"],
        audience: Audience::Admins,
        usage: "/reload",
        summary: "重新加载配置",
    },
];

/// The command a typed name (canonical or alias, any ASCII case) stands for.
pub fn lookup(name: &str) -> Option<&'static CommandSpec> {
    let lower = name.to_ascii_lowercase();
    COMMANDS
        .iter()
        .find(|c| c.name == lower || c.aliases.contains(&name))
}

/// The known name closest to a mistyped one, if any is close enough to suggest.
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
}
