//! The answer to an admin's `/reload`, sent once the reload is done.

use crate::domain::{Event, EventBody, Message, Segment};
use crate::features::Decision;

/// Each `/reload` the outcome answers, told what changed or why nothing did.
pub(super) fn reload_answers(event: &Event) -> Decision {
    let EventBody::ConfigReloaded {
        applied,
        changes,
        restart_needed,
        problems,
        asked,
    } = &event.body
    else {
        return Decision::default();
    };
    let text = if *applied {
        crate::features::notify::reloaded(changes, restart_needed)
    } else {
        let shown: Vec<String> = problems
            .iter()
            .take(3)
            .map(|p| crate::features::clip(p, 200))
            .collect();
        let more = problems.len().saturating_sub(shown.len());
        let more = if more > 0 {
            format!("\n…另有 {more} 处")
        } else {
            String::new()
        };
        format!(
            "❌ 配置有误，没有生效，旧配置继续运行：\n{}{more}",
            shown.join("\n")
        )
    };
    let mut d = Decision::default();
    for asker in asked.iter().filter(|a| a.account == event.account) {
        d = d.act(crate::domain::Action::SendGroupMsg {
            group: asker.group.clone(),
            message: Message::from_segments([
                Segment::Reply {
                    id: asker.message_id.clone(),
                },
                Segment::Text { text: text.clone() },
            ]),
        });
    }
    d
}
