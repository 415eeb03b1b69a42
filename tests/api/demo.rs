//! `qunbot demo` plays its script and reads the results back from its database.

#[tokio::test]
async fn the_demo_answers_every_ping_once_and_leaves_nothing_pending() {
    let mut transcript = Vec::new();
    let report = qunbot::demo::run(&mut transcript)
        .await
        .expect("the demo runs");
    let transcript = String::from_utf8(transcript).unwrap();

    assert_eq!(report.pongs, 3, "{transcript}");
    assert_eq!(report.outbox_counts, vec![("delivered".to_string(), 3)]);
    let count = |kind: &str| {
        report
            .event_counts
            .iter()
            .find(|(k, _)| k == kind)
            .map_or(0, |(_, n)| *n)
    };
    assert_eq!(
        count("message.group"),
        5,
        "the redelivered /ping is logged once"
    );
    assert_eq!(count("action.send_group_msg"), 3);
    assert_eq!(count("unhandled.notice.group_upload"), 1);
    assert!(transcript.contains("daemon answered 403"), "{transcript}");
    assert!(transcript.contains("daemon answered 400"), "{transcript}");
    assert!(
        transcript.contains("[零食团购群] 🤖 qunbot: ↩ pong"),
        "{transcript}"
    );
}
