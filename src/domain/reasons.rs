//! Why an automatic message did not go out, as the shop's owner reads it: one
//! wording for the owner's notices, `/计划`, the report and its page.

/// The Chinese for a missed post's reason code (`quiet_hours`, `daily_cap`…);
/// an unknown code is shown as it is.
pub fn missed_reason(code: &str) -> &str {
    match code {
        "quiet_hours" => "免打扰时段",
        "daily_cap" => "已到群每日自动消息上限",
        "paused" => "本群已暂停",
        "late" => "到截止时间仍未送出（账号离线或暂停）",
        "no_account" => "没有机器人账号在这个群里",
        "account_suspect" => "账号疑似被风控，自动消息暂停",
        "account_cap" => "已到账号每日自动消息上限",
        "daemon_down" => "当时机器人程序没有运行",
        "in_past" => "时间已经过了",
        "gave_up" => "网关长时间连不上，已放弃",
        "unknown" => "原因不明",
        other => other,
    }
}
