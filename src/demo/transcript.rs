//! The demo's transcript: what the gateway pushed and what the bot called, as
//! a person reads a chat.

use serde_json::Value;

use crate::simulator::events::id_text;

/// The name listed for `id` in `(id, name)` pairs, else the id itself.
pub(super) fn name_of(names: &[(String, String)], id: &str) -> String {
    names
        .iter()
        .find(|(g, _)| g == id)
        .map_or_else(|| id.to_string(), |(_, name)| name.clone())
}

pub(super) fn describe_push(
    groups: &[(String, String)],
    names: &[(String, String)],
    body: &Value,
    status: u16,
    answer: &str,
) -> String {
    let group = body.get("group_id").map(|g| name_of(groups, &id_text(g)));
    let where_ = group.map(|g| format!("[{g}] ")).unwrap_or_default();
    let who = body
        .get("user_id")
        .map(|id| name_of(names, &id_text(id)))
        .unwrap_or_default();
    let what = match (body["post_type"].as_str(), body["notice_type"].as_str()) {
        (Some("message"), _) => format!("{who}: {}", render_message(names, &body["message"])),
        (Some("request"), _) => format!(
            "📝 {who} asks to join: 「{}」",
            body["comment"].as_str().unwrap_or_default()
        ),
        (Some("notice"), Some("group_increase")) => format!("➕ {who} joined"),
        (Some("notice"), Some("group_decrease")) => format!("➖ {who} left"),
        (Some("notice"), Some("group_upload")) => {
            format!(
                "📎 {who} uploaded {}",
                body["file"]["name"].as_str().unwrap_or("a file")
            )
        }
        (Some("notice"), Some(other)) => format!("(notice {other})"),
        (Some("meta_event"), _) => format!(
            "(gateway {})",
            body["meta_event_type"].as_str().unwrap_or("meta event")
        ),
        (Some(other), _) => format!("({other})"),
        (None, _) => "(a body that is not an event)".to_string(),
    };
    let verdict = match status {
        204 => String::new(),
        _ => format!("   ⟵ daemon answered {status}: {}", answer.trim()),
    };
    format!("{where_}{what}{verdict}")
}

pub(super) fn describe_call(
    groups: &[(String, String)],
    names: &[(String, String)],
    action: &str,
    params: &Value,
    status: u16,
) -> String {
    let group = params.get("group_id").map(|g| name_of(groups, &id_text(g)));
    let where_ = group.map(|g| format!("[{g}] ")).unwrap_or_default();
    let user = params
        .get("user_id")
        .map(|u| name_of(names, &id_text(u)))
        .unwrap_or_default();
    if status != 200 {
        return format!("{where_}   ⚠ {action} answered HTTP {status}: the outbox will retry");
    }
    match action {
        "send_group_msg" => format!(
            "{where_}🤖 qunbot: {}",
            render_message(names, &params["message"])
        ),
        "set_group_add_request" => {
            let flag = params["flag"].as_str().unwrap_or_default();
            let requester = name_of(names, flag.trim_start_matches("request-"));
            if params["approve"] == true {
                format!("🤖 qunbot approves {requester}'s request")
            } else {
                format!(
                    "🤖 qunbot rejects {requester}'s request: {}",
                    params["reason"].as_str().unwrap_or_default()
                )
            }
        }
        "set_group_ban" => match params["duration"].as_u64() {
            Some(0) | None => format!("{where_}🤖 qunbot lifts {user}'s mute"),
            Some(secs) => format!("{where_}🤖 qunbot mutes {user} for {} min", secs / 60),
        },
        "set_group_kick" => format!("{where_}🤖 qunbot removes {user}"),
        "delete_msg" => format!("🤖 qunbot recalls message {}", params["message_id"]),
        "get_group_member_list" => format!("{where_}🤖 qunbot reads the member list"),
        "get_login_info" => "🤖 qunbot asks the gateway which account it is".to_string(),
        "get_group_list" => "🤖 qunbot asks which groups the account is in".to_string(),
        "send_private_msg" => format!(
            "🤖 qunbot → {user} (private): {}",
            render_message(names, &params["message"])
        ),
        _ => format!("{where_}🤖 qunbot calls {action}"),
    }
}

/// A message value (CQ string or segment array) as a person would read it.
pub(super) fn render_message(names: &[(String, String)], message: &Value) -> String {
    match message {
        Value::String(s) => s.clone(),
        Value::Array(segments) => segments
            .iter()
            .map(|s| {
                let data = &s["data"];
                match s["type"].as_str() {
                    Some("text") => data["text"].as_str().unwrap_or_default().to_string(),
                    Some("at") => format!(
                        "@{}",
                        name_of(names, data["qq"].as_str().unwrap_or_default())
                    ),
                    Some("reply") => "↩ ".to_string(),
                    Some("face") => "🙂".to_string(),
                    Some(other) => format!("[{other}]"),
                    None => String::new(),
                }
            })
            .collect(),
        _ => String::new(),
    }
}
