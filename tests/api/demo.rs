//! `qunbot demo` plays its script and reads the results back from its database.

#[tokio::test]
async fn the_demo_plays_every_feature_and_leaves_nothing_pending() {
    let mut transcript = Vec::new();
    let report = qunbot::demo::run(&mut transcript)
        .await
        .expect("the demo runs");
    let transcript = String::from_utf8(transcript).unwrap();
    let count = |kind: &str| {
        report
            .event_counts
            .iter()
            .find(|(k, _)| k == kind)
            .map_or(0, |(_, n)| *n)
    };

    // The foundation: every ping answered once, the redelivery logged once.
    assert_eq!(report.pongs, 3, "{transcript}");
    assert_eq!(
        report.outbox_counts,
        vec![("delivered".to_string(), 18)],
        "{transcript}"
    );
    assert_eq!(
        count("message.group"),
        12,
        "the redelivered /ping is logged once"
    );
    assert_eq!(count("unhandled.notice.group_upload"), 1);
    assert!(transcript.contains("daemon answered 403"), "{transcript}");
    assert!(transcript.contains("daemon answered 400"), "{transcript}");
    assert!(
        transcript.contains("[零食团购群] 🤖 qunbot: ↩ pong"),
        "{transcript}"
    );

    // The community features.
    assert_eq!(
        (
            count("join_request.approved"),
            count("join_request.rejected")
        ),
        (1, 1)
    );
    assert!(
        transcript.contains("🤖 qunbot: 欢迎 @小红 @小明 @小美 加入宝妈福利群"),
        "{transcript}"
    );
    assert!(
        transcript.contains("完成新人任务「阅读群规」！积分 +10，优惠券：NEW50-0001"),
        "{transcript}"
    );
    assert!(transcript.contains("今天已经签到过了"), "{transcript}");
    assert!(
        transcript.contains("qunbot mutes 小明 for 10 min"),
        "{transcript}"
    );
    assert_eq!(count("command.refused"), 1);
    assert_eq!(
        count("filter.hit"),
        2,
        "the ad and the QR code, not the harmless 出口交易额"
    );
    assert_eq!(count("media.qr_codes"), 1);
    assert!(
        transcript.contains("⚠ 你的消息违反群规（link）"),
        "{transcript}"
    );
    assert!(
        transcript.contains("qunbot recalls message"),
        "{transcript}"
    );
    assert!(
        transcript.contains("⚠ 你的消息含有违规内容（ad：加*"),
        "{transcript}"
    );
    assert_eq!(
        report.ledger,
        vec![("宝妈福利群".to_string(), "小红".to_string(), 20)]
    );
    assert_eq!(report.coupons.len(), 1);
}
