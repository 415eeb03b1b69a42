//! The simulator's control routes, for people wiring things up by hand (curl)
//! as much as for tests: the calls it recorded, outages and latency, events to
//! push to the daemon, and the member lists it answers with. They take no
//! token, which is why the simulator refuses a non-loopback address unless
//! exposed.
//!
//! - `GET /_simulator/calls`: every API call so far.
//! - `POST /_simulator/mode {"failing": 503, "latency_ms": 200}`.
//! - `POST /_simulator/push`: a OneBot event (`self_id` and `time` filled in
//!   when missing) or the shorthand `{"group", "user", "text"[, "nickname",
//!   "role"]}` for a member's message (no `group`: a private one); signed
//!   with the secret and posted to the webhook, or sent over the reverse
//!   WebSocket while one is dialled. Answers `{"via", "status", "answer",
//!   "event"}`.
//! - `GET /_simulator/members[?group=ID]`, `POST /_simulator/members
//!   {"group", "members": [{"user_id", ...}]}`: a group's member list as
//!   `get_group_member_list` answers it (fields left out take a gateway's
//!   defaults), replaced by a POST.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::outlet::Delivery;
use super::{id_text, lock, member_entry, AppState, RecordedCall, SimState};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/_simulator/calls", get(list_calls))
        .route("/_simulator/mode", post(set_mode))
        .route("/_simulator/push", post(push))
        .route("/_simulator/members", get(members).post(set_members))
}

/// The first `message_id` of shorthand messages: from the clock, so a
/// simulator started again does not reuse the ids of its last run (the daemon
/// would take the messages for redeliveries). Stays below `i32::MAX`.
pub(super) fn first_event_id(now: DateTime<Utc>) -> i64 {
    now.timestamp().rem_euclid(2_000_000) * 1000 + 1
}

async fn list_calls(State(app): State<AppState>) -> Json<Vec<RecordedCall>> {
    Json(lock(&app.state).calls.clone())
}

#[derive(Deserialize)]
struct Mode {
    failing: Option<u16>,
    latency_ms: Option<u64>,
}

async fn set_mode(State(app): State<AppState>, Json(mode): Json<Mode>) -> StatusCode {
    let mut state = lock(&app.state);
    state.failing = mode.failing;
    state.failures_left = None;
    state.latency = Duration::from_millis(mode.latency_ms.unwrap_or(0));
    StatusCode::NO_CONTENT
}

fn refuse(status: StatusCode, why: impl Into<String>) -> Response {
    (status, format!("{}\n", why.into())).into_response()
}

async fn push(State(app): State<AppState>, body: Bytes) -> Response {
    let given: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, format!("not JSON: {e}")),
    };
    let event = match event_from(given, &mut lock(&app.state), Utc::now()) {
        Ok(event) => event,
        Err(why) => return refuse(StatusCode::BAD_REQUEST, why),
    };
    if !app.outlet.has_destination() {
        return refuse(
            StatusCode::CONFLICT,
            "nowhere to push: start the simulator with --webhook URL or --ws-reverse URL",
        );
    }
    match app.outlet.push(&event).await {
        Ok(Delivery::Webhook { status, answer }) => Json(json!({
            "via": "webhook", "status": status, "answer": answer, "event": event,
        }))
        .into_response(),
        Ok(Delivery::Socket) => Json(json!({
            "via": "websocket", "status": null, "answer": null, "event": event,
        }))
        .into_response(),
        Err(e) => refuse(
            StatusCode::BAD_GATEWAY,
            format!("the daemon's webhook did not answer: {e}"),
        ),
    }
}

/// The shorthand for a member's message.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Shorthand {
    group: Option<Value>,
    user: Value,
    text: String,
    nickname: Option<String>,
    role: Option<String>,
}

/// The event a push stands for: a OneBot event as given, its `self_id` and
/// `time` filled in when missing, or the message a shorthand describes.
fn event_from(given: Value, state: &mut SimState, now: DateTime<Utc>) -> Result<Value, String> {
    if let Some(fields) = given.as_object().filter(|o| o.contains_key("post_type")) {
        let mut event = fields.clone();
        event
            .entry("self_id")
            .or_insert_with(|| state.self_id.clone());
        event
            .entry("time")
            .or_insert_with(|| json!(now.timestamp()));
        return Ok(Value::Object(event));
    }
    let short: Shorthand = serde_json::from_value(given).map_err(|e| {
        format!(
            "neither a OneBot event (no post_type) nor the shorthand \
             {{\"group\", \"user\", \"text\"}}: {e}"
        )
    })?;
    for (name, id) in [("user", Some(&short.user)), ("group", short.group.as_ref())] {
        if let Some(id) = id.filter(|id| !(id.is_string() || id.is_i64())) {
            return Err(format!("{name} must be a number or a string, not {id}"));
        }
    }
    let message_id = state.next_event_id;
    state.next_event_id += 1;
    let nickname = short.nickname.unwrap_or_else(|| id_text(&short.user));
    let mut event = json!({
        "time": now.timestamp(), "self_id": state.self_id, "post_type": "message",
        "message_id": message_id, "user_id": short.user, "anonymous": null,
        "message": short.text, "raw_message": short.text, "font": 0,
        "sender": {"user_id": short.user, "nickname": nickname, "card": "",
                   "role": short.role.as_deref().unwrap_or("member")},
    });
    match short.group {
        Some(group) => {
            event["message_type"] = json!("group");
            event["sub_type"] = json!("normal");
            event["group_id"] = group;
        }
        None => {
            event["message_type"] = json!("private");
            event["sub_type"] = json!("friend");
        }
    }
    Ok(event)
}

async fn members(
    State(app): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Json<Value> {
    let state = lock(&app.state);
    Json(match query.get("group") {
        Some(group) => json!(state.rosters.get(group).cloned().unwrap_or_default()),
        None => json!(state.rosters.iter().collect::<BTreeMap<_, _>>()),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Roster {
    group: Value,
    members: Vec<Value>,
}

async fn set_members(State(app): State<AppState>, body: Bytes) -> Response {
    let roster: Roster = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!("expected {{\"group\": ID, \"members\": [{{\"user_id\": ID, ...}}]}}: {e}"),
            )
        }
    };
    if !(roster.group.is_string() || roster.group.is_i64()) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "group must be a number or a string",
        );
    }
    let mut list = Vec::with_capacity(roster.members.len());
    for (i, given) in roster.members.iter().enumerate() {
        let user = &given["user_id"];
        if !given.is_object() || !(user.is_string() || user.is_i64()) {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!("members[{i}] needs a user_id, a number or a string"),
            );
        }
        list.push(member_entry(&roster.group, given));
    }
    lock(&app.state)
        .rosters
        .insert(id_text(&roster.group), list);
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> SimState {
        SimState {
            self_id: json!(10001000),
            next_event_id: 7,
            ..SimState::default()
        }
    }

    #[test]
    fn the_shorthand_is_a_group_message_numbered_in_turn() {
        let mut state = state();
        let now = Utc::now();
        let first = event_from(
            json!({"group": 123456, "user": 10002, "text": "/ping"}),
            &mut state,
            now,
        )
        .unwrap();
        assert_eq!(first["message_type"], "group");
        assert_eq!(first["group_id"], 123456);
        assert_eq!(first["self_id"], 10001000);
        assert_eq!(first["message"], "/ping");
        assert_eq!(first["message_id"], 7);
        let second = event_from(
            json!({"user": "wxid_a", "text": "在吗", "nickname": "阿花"}),
            &mut state,
            now,
        )
        .unwrap();
        assert_eq!(second["message_type"], "private");
        assert_eq!(second["sender"]["nickname"], "阿花");
        assert_eq!(second["message_id"], 8);
    }

    #[test]
    fn a_full_event_keeps_its_fields_and_gets_what_it_lacks() {
        let event = event_from(
            json!({"post_type": "notice", "notice_type": "group_increase", "self_id": 42}),
            &mut state(),
            Utc::now(),
        )
        .unwrap();
        assert_eq!(event["self_id"], 42);
        assert!(event["time"].is_i64());
    }

    #[test]
    fn a_shorthand_without_text_or_with_an_odd_id_is_refused_with_the_reason() {
        let no_text = event_from(json!({"user": 1}), &mut state(), Utc::now()).unwrap_err();
        assert!(no_text.contains("text"), "{no_text}");
        let odd = event_from(json!({"user": [1], "text": "x"}), &mut state(), Utc::now());
        assert!(odd.unwrap_err().contains("user must be"));
    }

    #[test]
    fn shorthand_ids_of_a_later_run_start_past_those_of_an_earlier_one() {
        let at = |secs| DateTime::from_timestamp(secs, 0).unwrap();
        assert!(first_event_id(at(1_800_000_001)) > first_event_id(at(1_800_000_000)) + 999);
        assert!(first_event_id(at(1_801_999_999)) < i64::from(i32::MAX));
    }
}
