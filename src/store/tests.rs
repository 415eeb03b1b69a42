use super::*;
use crate::domain::{Action, GroupMessage, Message, Sender};

async fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db")).await.unwrap();
    (dir, store)
}

fn said(message_id: i64, user: i64, nickname: &str, time: i64) -> Event {
    Event {
        account: Id::number(1),
        time,
        body: EventBody::GroupMessage(GroupMessage {
            message_id: Id::number(message_id),
            group: Id::number(100),
            user: Id::number(user),
            sender: Sender {
                nickname: Some(nickname.into()),
                ..Sender::default()
            },
            message: Message::text("hi"),
            anonymous: false,
        }),
    }
}

#[tokio::test]
async fn a_redelivery_in_the_same_batch_or_later_is_recorded_once() {
    let (_dir, store) = temp_store().await;
    let first = store
        .record_inbound(&[
            said(1, 5, "a", 10),
            said(1, 5, "a", 10),
            said(2, 5, "a", 11),
        ])
        .await
        .unwrap();
    assert!(matches!(first[0], Recorded::New(_)));
    assert_eq!(first[1], Recorded::Duplicate);
    assert!(matches!(first[2], Recorded::New(_)));
    let again = store.record_inbound(&[said(2, 5, "a", 11)]).await.unwrap();
    assert_eq!(again, vec![Recorded::Duplicate]);
    assert_eq!(
        store.events_of_kind("message.group").await.unwrap().len(),
        2
    );
}

#[tokio::test]
async fn the_same_message_id_on_two_accounts_is_two_events() {
    let (_dir, store) = temp_store().await;
    let mut other = said(1, 5, "a", 10);
    other.account = Id::text("wxid_bot2");
    let r = store
        .record_inbound(&[said(1, 5, "a", 10), other])
        .await
        .unwrap();
    assert!(r.iter().all(|r| matches!(r, Recorded::New(_))), "{r:?}");
}

#[tokio::test]
async fn members_keep_their_latest_name_and_time_spoken() {
    let (_dir, store) = temp_store().await;
    store
        .record_inbound(&[said(1, 5, "old", 100), said(2, 5, "new", 200)])
        .await
        .unwrap();
    let m = store
        .member(&Id::number(1), &Id::number(100), &Id::number(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.nickname.as_deref(), Some("new"));
    assert_eq!(m.last_spoke_at.as_deref(), Some("1970-01-01T00:03:20.000Z"));
}

#[tokio::test]
async fn queued_actions_mark_their_events_handled_and_finish_with_a_log_row() {
    let (_dir, store) = temp_store().await;
    let recorded = store.record_inbound(&[said(1, 5, "a", 10)]).await.unwrap();
    let Recorded::New(id) = recorded[0] else {
        panic!()
    };
    assert_eq!(store.unhandled_inbound().await.unwrap().len(), 1);

    let outbound = Outbound {
        account: Id::number(1),
        action: Action::SendGroupMsg {
            group: Id::number(100),
            message: Message::text("pong"),
        },
    };
    store
        .commit(&Commit {
            handled: vec![id],
            actions: vec![(Some(id), outbound.clone())],
            ..Commit::default()
        })
        .await
        .unwrap();
    assert!(store.unhandled_inbound().await.unwrap().is_empty());

    let pending = store.pending_actions(10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].outbound, outbound);
    let outcome = Outcome {
        state: OutboxState::Delivered,
        attempts: 1,
        error: None,
        result: serde_json::json!({"message_id": 9}),
    };
    store
        .finish_action(&pending[0], &outcome, None)
        .await
        .unwrap();
    assert!(store.pending_actions(10).await.unwrap().is_empty());
    let logged = store.events_of_kind("action.send_group_msg").await.unwrap();
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].direction, "out");
    assert_eq!(logged[0].group_id.as_deref(), Some("100"));
    assert_eq!(logged[0].detail["state"], "delivered");
}

#[tokio::test]
async fn a_database_in_a_missing_folder_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/folder/q.db");
    let err = Store::open(&path).await.err().unwrap();
    assert!(err.to_string().starts_with("cannot open database"), "{err}");
    assert!(err.to_string().contains("no/such/folder"), "{err}");
}
