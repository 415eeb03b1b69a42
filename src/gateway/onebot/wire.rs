//! OneBot v11 JSON: pushed events in, API call parameters out, and the
//! answers qunbot reads (a group's member list).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use super::cq;
use crate::domain::{
    Action, Event, EventBody, GroupMessage, Id, LeaveReason, ListedGroup, ListedMember, Message,
    PrivateMessage, Role, Segment, Sender,
};

/// Why a pushed body was not an event; answered with 400 and this text.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WireError(pub String);

/// The fields of every event type we read, all optional past the common three;
/// gateways add fields freely, so unknown ones are ignored.
#[derive(Deserialize)]
struct WireEvent {
    time: i64,
    self_id: Id,
    post_type: String,
    message_type: Option<String>,
    notice_type: Option<String>,
    request_type: Option<String>,
    meta_event_type: Option<String>,
    sub_type: Option<String>,
    message_id: Option<Id>,
    group_id: Option<Id>,
    user_id: Option<Id>,
    operator_id: Option<Id>,
    message: Option<WireMessage>,
    #[serde(default)]
    sender: WireSender,
    anonymous: Option<Value>,
    duration: Option<u64>,
    comment: Option<String>,
    flag: Option<String>,
    interval: Option<u64>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum WireMessage {
    Cq(String),
    Segments(Vec<WireSegment>),
    One(WireSegment),
}

#[derive(Deserialize)]
struct WireSegment {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    data: BTreeMap<String, Value>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct WireSender {
    nickname: Option<Value>,
    card: Option<Value>,
    role: Option<String>,
}

/// Parses a pushed body into an event. Types qunbot does not handle become
/// `EventBody::Unhandled` with the raw JSON kept; only bodies that are not JSON,
/// lack the common fields, or lack what their own type needs are errors.
pub fn parse_event(body: &[u8]) -> Result<Event, WireError> {
    let body = &*mend_lone_surrogates(body);
    let w: WireEvent =
        serde_json::from_slice(body).map_err(|e| WireError(format!("invalid event JSON: {e}")))?;
    let account = w.self_id.clone();
    let time = w.time;
    let body = match event_body(w) {
        Ok(Some(body)) => body,
        Ok(None) => unhandled(body)?,
        Err(missing) => return Err(missing),
    };
    Ok(Event {
        account,
        time,
        body,
        heard_by: None,
    })
}

/// Replaces each `\uD800`–`\uDFFF` escape that is not half of a valid pair
/// with `\uFFFD`, which `serde_json` would refuse, losing the whole event:
/// JavaScript's `JSON.stringify` writes half an emoji this way. The body is
/// copied only when there is something to mend (same length: six bytes each).
fn mend_lone_surrogates(body: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let surrogate = |at: usize| -> Option<u16> {
        let hex = body.get(at + 2..at + 6)?;
        let code = u16::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
        (body.get(at..at + 2) == Some(b"\\u") && (0xD800..=0xDFFF).contains(&code)).then_some(code)
    };
    let mut mended: Option<Vec<u8>> = None;
    let mut i = 0;
    while i < body.len() {
        if body[i] != b'\\' {
            i += 1;
            continue;
        }
        match surrogate(i) {
            Some(0xD800..=0xDBFF)
                if surrogate(i + 6).is_some_and(|low| (0xDC00..=0xDFFF).contains(&low)) =>
            {
                i += 12;
            }
            Some(_) => {
                mended.get_or_insert_with(|| body.to_vec())[i..i + 6].copy_from_slice(b"\\uFFFD");
                i += 6;
            }
            // Any other escape: skip the escaped byte, so `\\` never starts one.
            None => i += 2,
        }
    }
    match mended {
        Some(bytes) => std::borrow::Cow::Owned(bytes),
        None => std::borrow::Cow::Borrowed(body),
    }
}

fn unhandled(body: &[u8]) -> Result<EventBody, WireError> {
    let raw: Value =
        serde_json::from_slice(body).map_err(|e| WireError(format!("invalid event JSON: {e}")))?;
    let field = |k: &str| raw.get(k).and_then(Value::as_str).unwrap_or("");
    let post_type = field("post_type");
    let detail = [
        "message_type",
        "notice_type",
        "request_type",
        "meta_event_type",
    ]
    .into_iter()
    .map(field)
    .find(|s| !s.is_empty());
    let what = match detail {
        Some(d) => format!("{post_type}.{d}"),
        None => post_type.to_string(),
    };
    Ok(EventBody::Unhandled { what, raw })
}

/// `Ok(None)` for an event type we do not handle.
fn event_body(w: WireEvent) -> Result<Option<EventBody>, WireError> {
    let what = || {
        [
            &w.message_type,
            &w.notice_type,
            &w.request_type,
            &w.meta_event_type,
        ]
        .into_iter()
        .find_map(|t| t.clone())
        .unwrap_or_default()
    };
    let need = |field: &Option<Id>, name: &str| {
        field
            .clone()
            .ok_or_else(|| WireError(format!("{} {} event without {name}", w.post_type, what())))
    };
    let body = match (w.post_type.as_str(), what().as_str()) {
        ("message", "group") => EventBody::GroupMessage(GroupMessage {
            message_id: need(&w.message_id, "message_id")?,
            group: need(&w.group_id, "group_id")?,
            user: need(&w.user_id, "user_id")?,
            sender: sender(&w.sender),
            message: message(w.message)?,
            anonymous: w.anonymous.is_some_and(|a| !a.is_null()),
        }),
        ("message", "private") => EventBody::PrivateMessage(PrivateMessage {
            message_id: need(&w.message_id, "message_id")?,
            user: need(&w.user_id, "user_id")?,
            sender: sender(&w.sender),
            message: message(w.message)?,
        }),
        ("notice", "group_increase") => EventBody::MemberJoined {
            group: need(&w.group_id, "group_id")?,
            user: need(&w.user_id, "user_id")?,
            operator: w.operator_id,
            invited: w.sub_type.as_deref() == Some("invite"),
        },
        ("notice", "group_decrease") => EventBody::MemberLeft {
            group: need(&w.group_id, "group_id")?,
            user: need(&w.user_id, "user_id")?,
            operator: w.operator_id,
            reason: match w.sub_type.as_deref() {
                Some("kick") => LeaveReason::Kicked,
                Some("kick_me") => LeaveReason::BotKicked,
                _ => LeaveReason::Left,
            },
        },
        ("notice", "group_ban") => EventBody::MemberMuted {
            group: need(&w.group_id, "group_id")?,
            user: need(&w.user_id, "user_id")?,
            operator: w.operator_id,
            duration_secs: match w.sub_type.as_deref() {
                Some("lift_ban") => 0,
                _ => w.duration.unwrap_or(0),
            },
        },
        ("notice", "group_recall") => EventBody::MessageRecalled {
            group: need(&w.group_id, "group_id")?,
            user: need(&w.user_id, "user_id")?,
            operator: w.operator_id.clone(),
            message_id: need(&w.message_id, "message_id")?,
        },
        ("notice", "group_admin") => EventBody::AdminChanged {
            group: need(&w.group_id, "group_id")?,
            user: need(&w.user_id, "user_id")?,
            promoted: w.sub_type.as_deref() == Some("set"),
        },
        ("request", "group") => EventBody::JoinRequest {
            group: need(&w.group_id, "group_id")?,
            user: need(&w.user_id, "user_id")?,
            comment: w.comment.unwrap_or_default(),
            flag: w
                .flag
                .ok_or_else(|| WireError("request group event without flag".into()))?,
            invite: w.sub_type.as_deref() == Some("invite"),
        },
        ("meta_event", "heartbeat") => EventBody::Heartbeat {
            interval_ms: w.interval,
        },
        ("meta_event", "lifecycle") => EventBody::Lifecycle {
            phase: w.sub_type.unwrap_or_default(),
        },
        _ => return Ok(None),
    };
    Ok(Some(body))
}

fn sender(s: &WireSender) -> Sender {
    Sender {
        nickname: s.nickname.as_ref().map(value_text),
        card: s.card.as_ref().map(value_text),
        role: role(s.role.as_deref()),
    }
}

fn role(name: Option<&str>) -> Option<Role> {
    match name {
        Some("owner") => Some(Role::Owner),
        Some("admin") => Some(Role::Admin),
        Some("member") => Some(Role::Member),
        _ => None,
    }
}

/// One entry of `get_group_member_list`'s answer: the fields qunbot reads.
#[derive(Deserialize)]
struct WireMember {
    user_id: Id,
    #[serde(default)]
    nickname: Option<Value>,
    #[serde(default)]
    card: Option<Value>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    join_time: Option<i64>,
    #[serde(default)]
    last_sent_time: Option<i64>,
}

/// `get_group_member_list`'s data as listed members. An entry without a
/// readable `user_id` is skipped (and counted in the error only when no entry
/// is readable, so one odd entry does not lose a whole group's list). Times of
/// 0 mean "unknown" in the gateways seen.
pub fn member_list(data: &Value) -> Result<Vec<ListedMember>, WireError> {
    let Some(entries) = data.as_array() else {
        return Err(WireError(format!(
            "get_group_member_list answered {}, not a list",
            short_kind(data)
        )));
    };
    let known = |t: Option<i64>| t.filter(|t| *t > 0);
    let members: Vec<ListedMember> = entries
        .iter()
        .filter_map(|e| WireMember::deserialize(e).ok())
        .map(|m| {
            let s = WireSender {
                nickname: m.nickname,
                card: m.card,
                role: m.role,
            };
            let sender = sender(&s);
            ListedMember {
                user: m.user_id,
                name: sender.display_name().map(str::to_string),
                role: sender.role,
                joined: known(m.join_time),
                last_spoke: known(m.last_sent_time),
            }
        })
        .collect();
    if members.is_empty() && !entries.is_empty() {
        return Err(WireError(
            "get_group_member_list: no entry has a readable user_id".into(),
        ));
    }
    Ok(members)
}

/// `get_login_info`'s data: the account the gateway is logged in as, and its nickname.
pub fn login_info(data: &Value) -> Result<(Id, Option<String>), WireError> {
    #[derive(Deserialize)]
    struct Login {
        user_id: Id,
        #[serde(default)]
        nickname: Option<Value>,
    }
    let login = Login::deserialize(data).map_err(|e| {
        WireError(format!(
            "get_login_info answered {} without a readable user_id: {e}",
            short_kind(data)
        ))
    })?;
    Ok((login.user_id, login.nickname.as_ref().map(value_text)))
}

/// `get_group_list`'s data as listed groups; entries without a readable
/// `group_id` are skipped.
pub fn group_list(data: &Value) -> Result<Vec<ListedGroup>, WireError> {
    #[derive(Deserialize)]
    struct WireGroup {
        group_id: Id,
        #[serde(default)]
        group_name: Option<Value>,
    }
    let Some(entries) = data.as_array() else {
        return Err(WireError(format!(
            "get_group_list answered {}, not a list",
            short_kind(data)
        )));
    };
    Ok(entries
        .iter()
        .filter_map(|e| WireGroup::deserialize(e).ok())
        .map(|g| ListedGroup {
            group: g.group_id,
            name: g.group_name.as_ref().map(value_text),
        })
        .collect())
}

fn short_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn message(m: Option<WireMessage>) -> Result<Message, WireError> {
    let segments = match m.ok_or_else(|| WireError("message event without message".into()))? {
        WireMessage::Cq(text) => return Ok(cq::parse(&text)),
        WireMessage::Segments(segments) => segments,
        WireMessage::One(segment) => vec![segment],
    };
    Ok(Message::from_segments(segments.into_iter().map(|s| {
        let data = s
            .data
            .iter()
            .map(|(k, v)| (k.clone(), value_text(v)))
            .collect();
        cq::segment_from(s.kind, data)
    })))
}

/// Segment data values are strings by the spec; gateways send numbers and booleans too.
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A message as a segment array, the one encoding that needs no escaping.
pub fn message_json(message: &Message) -> Value {
    Value::Array(
        message
            .segments()
            .iter()
            .map(|segment| match (segment, cq::segment_to(segment)) {
                (Segment::Text { text }, _) => json!({"type": "text", "data": {"text": text}}),
                (_, (kind, data)) => json!({"type": kind, "data": data.unwrap_or_default()}),
            })
            .collect(),
    )
}

/// The OneBot action name and parameters of a typed action.
pub fn action_call(action: &Action) -> (&'static str, Value) {
    let params = match action {
        Action::SendGroupMsg { group, message } => {
            json!({"group_id": group, "message": message_json(message)})
        }
        Action::SendPrivateMsg { user, message } => {
            json!({"user_id": user, "message": message_json(message)})
        }
        Action::DeleteMsg { message_id, .. } => json!({"message_id": message_id}),
        Action::SetGroupBan {
            group,
            user,
            duration_secs,
        } => json!({"group_id": group, "user_id": user, "duration": duration_secs}),
        Action::SetGroupKick {
            group,
            user,
            reject_add_request,
        } => json!({"group_id": group, "user_id": user, "reject_add_request": reject_add_request}),
        Action::SetGroupAddRequest {
            flag,
            invite,
            approve,
            reason,
            ..
        } => json!({
            "flag": flag,
            "sub_type": if *invite { "invite" } else { "add" },
            "approve": approve,
            "reason": reason.clone().unwrap_or_default(),
        }),
        Action::GetGroupMemberList { group } => json!({"group_id": group}),
        Action::GetLoginInfo => json!({}),
        Action::GetGroupList => json!({"no_cache": true}),
    };
    (action.name(), params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group_message(message: Value) -> Event {
        let body = json!({
            "time": 1, "self_id": 10, "post_type": "message", "message_type": "group",
            "sub_type": "normal", "message_id": 7, "group_id": "g@chatroom", "user_id": 5,
            "message": message, "sender": {"nickname": "小红", "role": "admin", "age": "18"}
        });
        parse_event(body.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn both_message_encodings_give_the_same_event() {
        let cq = group_message(json!(
            "&#91;hi&#93;[CQ:at,qq=10001]&amp;[CQ:face,id=1][CQ:reply,id=99][CQ:rps]"
        ));
        let array = group_message(json!([
            {"type": "text", "data": {"text": "[hi]"}},
            {"type": "at", "data": {"qq": "10001"}},
            {"type": "text", "data": {"text": "&"}},
            {"type": "face", "data": {"id": 1}},
            {"type": "reply", "data": {"id": "99"}},
            {"type": "rps", "data": {}}
        ]));
        assert_eq!(cq, array);
        let EventBody::GroupMessage(m) = &cq.body else {
            panic!()
        };
        assert_eq!(m.sender.role, Some(Role::Admin));
        assert_eq!(m.message.plain_text(), "[hi]&");
    }

    #[test]
    fn unknown_event_types_are_kept_raw_not_refused() {
        let e = parse_event(br#"{"time":1,"self_id":1,"post_type":"notice","notice_type":"group_upload","group_id":2,"user_id":3,"file":{"id":"x"}}"#).unwrap();
        assert_eq!(e.kind(), "unhandled.notice.group_upload");
        let e =
            parse_event(br#"{"time":1,"self_id":"wxid_bot","post_type":"message_sent"}"#).unwrap();
        assert_eq!(e.kind(), "unhandled.message_sent");
        assert_eq!(e.account, Id::text("wxid_bot"));
    }

    #[test]
    fn lone_surrogate_escapes_become_replacement_characters_and_pairs_stay() {
        let mend =
            |s: &str| String::from_utf8(mend_lone_surrogates(s.as_bytes()).into_owned()).unwrap();
        assert_eq!(mend(r#""a\ud83d!""#), r#""a\uFFFD!""#);
        assert_eq!(mend(r#""\ude00""#), r#""\uFFFD""#, "a low half alone");
        assert_eq!(
            mend(r#""\ud83d\ude00""#),
            r#""\ud83d\ude00""#,
            "a pair stays"
        );
        assert_eq!(
            mend(r#""\\ud83d""#),
            r#""\\ud83d""#,
            "an escaped backslash, then letters"
        );
        assert_eq!(mend(r#""\ud83d\u0041""#), r#""\uFFFD\u0041""#);
        assert_eq!(mend("\\ud8"), "\\ud8", "cut short: left to the parser");
        assert!(matches!(
            mend_lone_surrogates(b"{}"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn malformed_bodies_say_what_is_wrong() {
        let e = parse_event(b"{not json").unwrap_err();
        assert!(e.0.starts_with("invalid event JSON"), "{e}");
        let e = parse_event(br#"{"time":1,"post_type":"message"}"#).unwrap_err();
        assert!(e.0.contains("self_id"), "{e}");
        let e = parse_event(br#"{"time":1,"self_id":1,"post_type":"notice","notice_type":"group_increase","user_id":3}"#).unwrap_err();
        assert_eq!(e.0, "notice group_increase event without group_id");
    }

    #[test]
    fn notices_map_to_typed_events() {
        let e = parse_event(br#"{"time":1,"self_id":1,"post_type":"notice","notice_type":"group_ban","sub_type":"lift_ban","group_id":2,"user_id":3,"operator_id":4,"duration":600}"#).unwrap();
        assert!(matches!(
            e.body,
            EventBody::MemberMuted {
                duration_secs: 0,
                ..
            }
        ));
        let e = parse_event(br#"{"time":1,"self_id":1,"post_type":"notice","notice_type":"group_decrease","sub_type":"kick","group_id":2,"user_id":3,"operator_id":4}"#).unwrap();
        assert!(matches!(
            e.body,
            EventBody::MemberLeft {
                reason: LeaveReason::Kicked,
                ..
            }
        ));
        let e = parse_event(br#"{"time":1,"self_id":1,"post_type":"request","request_type":"group","sub_type":"add","group_id":2,"user_id":3,"comment":"hi","flag":"f1"}"#).unwrap();
        assert!(matches!(
            e.body,
            EventBody::JoinRequest { invite: false, .. }
        ));
    }

    #[test]
    fn ids_go_back_out_in_the_form_they_came_in() {
        let (_, params) = action_call(&Action::SendGroupMsg {
            group: Id::text("g@chatroom"),
            message: Message::mentioning(&[Id::number(5)], Message::text("pong")),
        });
        assert_eq!(params["group_id"], json!("g@chatroom"));
        assert_eq!(
            params["message"][0],
            json!({"type": "at", "data": {"qq": "5"}})
        );
        let (_, params) = action_call(&Action::SetGroupBan {
            group: Id::number(1),
            user: Id::text("wxid_a"),
            duration_secs: 600,
        });
        assert_eq!(
            params,
            json!({"group_id": 1, "user_id": "wxid_a", "duration": 600})
        );
    }

    #[test]
    fn a_member_list_reads_names_roles_and_times_and_skips_odd_entries() {
        let data = json!([
            {"group_id": 1, "user_id": 7, "nickname": "阿强", "card": "", "role": "member",
             "join_time": 1_700_000_000, "last_sent_time": 0},
            {"group_id": 1, "user_id": "wxid_a", "nickname": "n", "card": "卡片", "role": "owner"},
            {"group_id": 1, "nickname": "no id"},
        ]);
        let members = member_list(&data).unwrap();
        assert_eq!(members.len(), 2);
        assert_eq!(members[0].user, Id::number(7));
        assert_eq!(members[0].name.as_deref(), Some("阿强"));
        assert_eq!(members[0].joined, Some(1_700_000_000));
        assert_eq!(members[0].last_spoke, None, "0 is unknown");
        assert_eq!(members[1].name.as_deref(), Some("卡片"));
        assert_eq!(members[1].role, Some(Role::Owner));
    }

    #[test]
    fn a_member_list_that_is_not_a_list_is_an_error() {
        assert!(member_list(&json!({"oops": 1})).is_err());
        assert!(member_list(&json!([{"nickname": "x"}])).is_err());
        assert_eq!(member_list(&json!([])).unwrap(), vec![]);
    }
}
