//! A raid: many members flooding one group. The bot answers each raider once
//! for the burst and never floods the group itself.

use std::collections::HashMap;

use qunbot::simulator::events::VirtualMember;
use qunbot::store::ReadModel;
use serde_json::json;

use crate::helpers::{eventually, mentions_of, spawn_app_configured};

const FLOOD: &str = r#"
[filter]
words_file = "words.txt"
[filter.flood]
messages = 3
within = "10s"
repeats = 3
[filter.categories.flood]
actions = ["recall", "warn", "mute"]
mute = "5m"
"#;

/// The raid's warnings after the first, merged when the window closes.
const WINDOW: &str = "warn_window = \"1s\"\n";

#[tokio::test]
async fn after_a_raid_the_group_got_at_most_thirty_bot_messages_and_two_actions_per_raider() {
    let mut app = spawn_app_configured(
        &FLOOD.replace("[filter.flood]", &format!("{WINDOW}[filter.flood]")),
        None,
    )
    .await;
    // The shipped cap, not the tests' generous one.
    app.stop_daemon().await;
    let config = std::fs::read_to_string(&app.config_path).unwrap();
    std::fs::write(
        &app.config_path,
        config.replace(
            "group_messages_per_minute = 1000",
            "group_messages_per_minute = 20",
        ),
    )
    .unwrap();
    app.start_daemon().await;

    let raiders: Vec<VirtualMember> = (0..30)
        .map(|i| VirtualMember::new(70000 + i, &format!("水军{i}"), "member"))
        .collect();
    for round in 0..10 {
        for raider in &raiders {
            let event =
                app.events
                    .group_message(&app.group, raider, json!(format!("刷屏 {round}")));
            assert_eq!(app.push(&event).await, 204);
        }
    }

    let store = app.daemon().store().clone();
    eventually("every raid message handled and every action closed", || {
        let store = store.clone();
        async move {
            store.unhandled_count().await.unwrap() == 0
                && store
                    .outbox_counts()
                    .await
                    .unwrap()
                    .iter()
                    .all(|c| c.name != "pending")
        }
    })
    .await;

    // One warning at once, then the rest in one message when the window closes.
    let merged = app.wait_chat("你们的消息违反群规").await;
    let chat = store.events_of_kind("action.send_group_msg").await.unwrap();
    assert!(
        chat.len() <= 30,
        "{} bot messages in the raided group",
        chat.len()
    );
    let most_mentioned = app
        .sim
        .performed("send_group_msg")
        .iter()
        .map(|c| mentions_of(&c.params["message"]).len())
        .max()
        .unwrap_or_default();
    assert!(most_mentioned >= 2, "{merged:?}");
    let mut muted: HashMap<String, usize> = HashMap::new();
    for row in store.events_of_kind("action.set_group_ban").await.unwrap() {
        *muted.entry(row.user_id.unwrap_or_default()).or_default() += 1;
    }
    assert_eq!(muted.len(), 30, "every raider was muted");
    assert!(muted.values().all(|n| *n == 1), "once each: {muted:?}");
    // A recall names the message, not its sender: one per raider at most.
    let recalls = store.events_of_kind("action.delete_msg").await.unwrap();
    assert!(recalls.len() <= 30, "{} recalls", recalls.len());
}
