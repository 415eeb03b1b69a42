//! OneBot v11 event JSON, written the way gateways write it, for virtual members.

use chrono::Utc;
use serde_json::{json, Value};

/// A virtual group member. Ids are JSON values: numbers for QQ-style accounts,
/// strings for WeChat-style ones.
#[derive(Clone, Debug)]
pub struct VirtualMember {
    pub id: Value,
    pub nickname: String,
    pub role: &'static str,
}

impl VirtualMember {
    pub fn new(id: impl Into<Value>, nickname: &str, role: &'static str) -> Self {
        VirtualMember {
            id: id.into(),
            nickname: nickname.to_string(),
            role,
        }
    }
}

/// The text of an id value (`123` or `"wxid_a"` → `123`, `wxid_a`).
pub fn id_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Writes events for one bot account, numbering messages as a gateway would.
pub struct EventFactory {
    self_id: Value,
    next_message_id: i64,
}

impl EventFactory {
    pub fn new(self_id: impl Into<Value>) -> Self {
        EventFactory {
            self_id: self_id.into(),
            next_message_id: 1,
        }
    }

    pub fn self_id(&self) -> &Value {
        &self.self_id
    }

    fn base(&self, post_type: &str) -> Value {
        json!({"time": Utc::now().timestamp(), "self_id": self.self_id, "post_type": post_type})
    }

    fn with(mut base: Value, fields: Value) -> Value {
        if let (Some(b), Value::Object(f)) = (base.as_object_mut(), fields) {
            b.extend(f);
        }
        base
    }

    /// A group message; `message` is a CQ-code string or a segment array.
    pub fn group_message(&mut self, group: &Value, from: &VirtualMember, message: Value) -> Value {
        self.next_message_id += 1;
        let raw = match &message {
            Value::String(s) => s.clone(),
            _ => String::new(),
        };
        Self::with(
            self.base("message"),
            json!({
                "message_type": "group", "sub_type": "normal",
                "message_id": self.next_message_id, "group_id": group, "user_id": from.id,
                "anonymous": null, "message": message, "raw_message": raw, "font": 0,
                "sender": {"user_id": from.id, "nickname": from.nickname, "card": "", "role": from.role}
            }),
        )
    }

    pub fn joined(
        &self,
        group: &Value,
        who: &VirtualMember,
        invited_by: Option<&VirtualMember>,
    ) -> Value {
        let (sub_type, operator) = match invited_by {
            Some(inviter) => ("invite", inviter.id.clone()),
            None => ("approve", json!(0)),
        };
        Self::with(
            self.base("notice"),
            json!({"notice_type": "group_increase", "sub_type": sub_type, "group_id": group, "operator_id": operator, "user_id": who.id}),
        )
    }

    pub fn left(&self, group: &Value, who: &VirtualMember) -> Value {
        Self::with(
            self.base("notice"),
            json!({"notice_type": "group_decrease", "sub_type": "leave", "group_id": group, "operator_id": who.id, "user_id": who.id}),
        )
    }

    pub fn recalled(&self, group: &Value, who: &VirtualMember, message_id: &Value) -> Value {
        Self::with(
            self.base("notice"),
            json!({"notice_type": "group_recall", "group_id": group, "operator_id": who.id, "user_id": who.id, "message_id": message_id}),
        )
    }

    pub fn join_request(
        &self,
        group: &Value,
        who: &VirtualMember,
        comment: &str,
        flag: &str,
    ) -> Value {
        Self::with(
            self.base("request"),
            json!({"request_type": "group", "sub_type": "add", "group_id": group, "user_id": who.id, "comment": comment, "flag": flag}),
        )
    }

    pub fn heartbeat(&self) -> Value {
        Self::with(
            self.base("meta_event"),
            json!({"meta_event_type": "heartbeat", "status": {"online": true, "good": true}, "interval": 15000}),
        )
    }

    pub fn lifecycle(&self, sub_type: &str) -> Value {
        Self::with(
            self.base("meta_event"),
            json!({"meta_event_type": "lifecycle", "sub_type": sub_type}),
        )
    }

    /// A file upload notice: an event type qunbot does not handle, but logs.
    pub fn file_uploaded(&self, group: &Value, who: &VirtualMember, name: &str) -> Value {
        Self::with(
            self.base("notice"),
            json!({"notice_type": "group_upload", "group_id": group, "user_id": who.id, "file": {"id": "f1", "name": name, "size": 1024, "busid": 102}}),
        )
    }
}
