//! What an operator reading the daemon's log should see in one line: a member
//! removed by the filter, an automatic post or welcome that will not go out.
//! The event log has every detail; these lines say it in words, once, after
//! the decision is committed.

use serde_json::Value;

use crate::domain::Id;

/// The log line (a warning) for a note, if it is one an operator should read.
pub fn line(kind: &str, group: Option<&Id>, user: Option<&Id>, detail: &Value) -> Option<String> {
    let group = group.map_or_else(|| "?".to_string(), Id::to_string);
    match kind {
        "filter.hit" => kicked(&group, user, detail),
        "schedule.missed" => {
            let schedule = detail["schedule"].as_str().unwrap_or("?");
            let count = detail["count"].as_u64().filter(|n| *n > 1);
            let posts = count.map_or_else(|| "post".to_string(), |n| format!("{n} posts"));
            let why = reason(detail["reason"].as_str().unwrap_or(""));
            let place = if detail.get("count").is_some() {
                String::new()
            } else {
                format!(" to group {group}")
            };
            Some(format!(
                "missed {posts} of schedule {schedule}{place}: {why}"
            ))
        }
        "welcome.missed" => {
            let newcomers = detail["users"].as_array().map_or(0, Vec::len);
            let why = reason(detail["reason"].as_str().unwrap_or(""));
            Some(format!(
                "missed the welcome of {newcomers} newcomer(s) in group {group}: {why}"
            ))
        }
        _ => None,
    }
}

/// "removed member U from group G: ..." when the filter's decision removes the
/// member, by a category's `kick` action or by escalation.
fn kicked(group: &str, user: Option<&Id>, detail: &Value) -> Option<String> {
    let by_action = detail["actions"]
        .as_array()
        .is_some_and(|a| a.iter().any(|a| a == "kick"));
    let escalated = detail["escalated"] == "kick";
    if !by_action && !escalated {
        return None;
    }
    let user = user.map_or_else(|| "?".to_string(), Id::to_string);
    let categories = crate::filter::logged_categories(&detail["hits"]);
    let why = if escalated {
        format!("strike {} within the escalation window", detail["strikes"])
    } else {
        "the category's action is kick".to_string()
    };
    Some(format!(
        "filter removed member {user} from group {group}: {why} (hit: {})",
        categories.join(", ")
    ))
}

/// A missed post's reason code in plain words.
pub fn reason(code: &str) -> String {
    match code {
        "quiet_hours" => "it fell in quiet hours".into(),
        "daily_cap" => "the group's daily cap was reached".into(),
        "account_cap" => "the account's daily cap was reached".into(),
        "account_suspect" => "the account is paused (suspected risk control)".into(),
        "paused" => "the group is paused (/pause)".into(),
        "no_account" => "none of the shop's accounts is known to be in the group".into(),
        "daemon_down" => "the daemon was down or too busy when they were due".into(),
        "in_past" => "its time had passed when it was first seen".into(),
        "late" => "still undelivered at its deadline".into(),
        other => format!("reason {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_escalation_to_a_kick_is_one_line_naming_member_group_and_why() {
        let detail = json!({"actions": ["recall", "warn"], "escalated": "kick", "strikes": 3,
                            "hits": [{"category": "ad"}, {"category": "ad"}]});
        let text = line(
            "filter.hit",
            Some(&Id::number(123456)),
            Some(&Id::number(20001)),
            &detail,
        )
        .unwrap();
        assert_eq!(
            text,
            "filter removed member 20001 from group 123456: strike 3 within the escalation window (hit: ad)"
        );
    }

    #[test]
    fn a_hit_without_a_kick_is_not_a_line() {
        let detail = json!({"actions": ["recall", "warn"], "escalated": null, "hits": []});
        assert_eq!(line("filter.hit", None, None, &detail), None);
        assert_eq!(line("schedule.sent", None, None, &json!({})), None);
    }

    #[test]
    fn a_missed_post_says_why_in_words() {
        let detail = json!({"schedule": "morning", "reason": "quiet_hours"});
        let text = line("schedule.missed", Some(&Id::number(123456)), None, &detail).unwrap();
        assert_eq!(
            text,
            "missed post of schedule morning to group 123456: it fell in quiet hours"
        );
        let down = json!({"schedule": "morning", "reason": "daemon_down", "count": 3});
        let text = line("schedule.missed", None, None, &down).unwrap();
        assert_eq!(
            text,
            "missed 3 posts of schedule morning: the daemon was down or too busy when they were due"
        );
    }
}
