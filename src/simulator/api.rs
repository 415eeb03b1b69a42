//! The OneBot v11 HTTP API the simulator serves, and the calls it answers over
//! the reverse WebSocket: both carried out here, from the same state.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use serde_json::{json, Value};

use super::{id_text, lock, AppState, RecordedCall, SimState};

/// The actions the simulator implements; anything else is answered 404, as the spec says.
pub(super) const ACTIONS: [&str; 11] = [
    "send_group_msg",
    "send_private_msg",
    "delete_msg",
    "set_group_ban",
    "set_group_kick",
    "set_group_whole_ban",
    "set_group_add_request",
    "get_group_member_list",
    "get_group_info",
    "get_login_info",
    "get_group_list",
];

fn bearer(headers: &HeaderMap, query: &HashMap<String, String>) -> Option<String> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string)
        .or_else(|| query.get("access_token").cloned())
}

pub(super) async fn api_call(
    State(app): State<AppState>,
    Path(action): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let token = bearer(&headers, &query);
    let params: Result<Value, _> = serde_json::from_slice(&body);
    let refused = match (&app.access_token, &token, &params) {
        (Some(_), None, _) => Some(401),
        (Some(want), Some(got), _) if want != got => Some(403),
        _ if !ACTIONS.contains(&action.as_str()) => Some(404),
        (_, _, Err(_)) => Some(400),
        _ => None,
    };
    let (status, reply) = carry_out(
        &app.state,
        action,
        params.unwrap_or(Value::Null),
        token,
        refused,
    )
    .await;
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status == 200 {
        (code, Json(reply)).into_response()
    } else {
        code.into_response()
    }
}

/// Answers one API call, over HTTP or the reverse WebSocket, and records it:
/// the HTTP status (`refused` when the transport already refused it) and the
/// OneBot envelope. Latency, outages and stalls apply here.
pub(super) async fn carry_out(
    shared: &Mutex<SimState>,
    action: String,
    params: Value,
    token: Option<String>,
    refused: Option<u16>,
) -> (u16, Value) {
    let (latency, stalled, stall_for) = {
        let mut state = lock(shared);
        let stalled = refused.is_none()
            && action.starts_with("send_")
            && state.stalls > 0
            && state.failing.is_none();
        if stalled {
            state.stalls -= 1;
        }
        (state.latency, stalled, state.stall_for)
    };
    if stalled {
        // Past the caller's limit; the message never goes out.
        tokio::time::sleep(stall_for).await;
    } else if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut state = lock(shared);
    let (status, reply, message_id) = match refused {
        Some(status) => (status, json!(null), None),
        None if stalled => (
            200,
            json!({"status": "failed", "retcode": 1200, "data": null,
                   "message": "Timeout: NTEvent serviceAndMethod:NodeIKernelMsgService/sendMsg"}),
            None,
        ),
        None => match state.take_failure() {
            Some(status) => (status, json!(null), None),
            None => perform(&mut state, &action, &params),
        },
    };
    let seq = state.next_seq();
    state.calls.push(RecordedCall {
        seq,
        at: Utc::now(),
        action,
        params,
        status: if stalled { 0 } else { status },
        token,
        message_id,
    });
    (status, reply)
}

/// Carries out an authorised call: the OneBot envelope, and the message id for sends.
fn perform(state: &mut SimState, action: &str, params: &Value) -> (u16, Value, Option<i64>) {
    if let Some((retcode, message)) = state.refusals.get(action) {
        return (
            200,
            json!({"status": "failed", "retcode": retcode, "data": null, "msg": message, "wording": message}),
            None,
        );
    }
    let ok = |data: Value| json!({"status": "ok", "retcode": 0, "data": data});
    match action {
        "send_group_msg" | "send_private_msg" => {
            state.next_message_id += 1;
            let id = state.next_message_id;
            (200, ok(json!({"message_id": id})), Some(id))
        }
        "get_group_member_list" => {
            let list = state.rosters.get(&id_text(&params["group_id"]));
            (200, ok(json!(list.cloned().unwrap_or_default())), None)
        }
        "set_group_kick" => {
            if let Some(list) = state.rosters.get_mut(&id_text(&params["group_id"])) {
                let user = id_text(&params["user_id"]);
                list.retain(|m| id_text(&m["user_id"]) != user);
            }
            (200, ok(Value::Null), None)
        }
        "get_login_info" => (
            200,
            ok(json!({"user_id": state.self_id, "nickname": "simulator"})),
            None,
        ),
        "get_group_list" => (200, ok(json!(state.groups)), None),
        _ => (200, ok(Value::Null), None),
    }
}
