//! `qunbot demo` plays its script and reads the results back from its database.

#[tokio::test]
async fn the_demo_plays_every_feature_scene_by_scene_and_leaves_nothing_pending() {
    let mut transcript = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("qunbot-report.html");
    let report = qunbot::demo::run(&mut transcript, &page)
        .await
        .expect("the demo runs");
    let transcript = String::from_utf8(transcript).unwrap();

    // It ends with the shop owner's page, and says where it is.
    let html = std::fs::read_to_string(&page).expect("the report page is written");
    assert!(html.contains("data-kpi=\"messages\""), "a KPI tile");
    assert!(html.contains("宝妈福利群"), "the groups by name");
    assert!(
        transcript.contains(&format!("written to {}", page.display())),
        "{transcript}"
    );

    let count = |kind: &str| {
        report
            .event_counts
            .iter()
            .find(|c| c.name == kind)
            .map_or(0, |c| c.n)
    };

    // The week's report counts what the log holds: every member message.
    let week = &report.report.totals.counts;
    assert_eq!(
        week[qunbot::report::Metric::Messages],
        count("message.group")
    );

    // The foundation: every ping answered once, the redelivery logged once.
    assert_eq!(report.pongs, 4, "{transcript}");
    assert!(
        transcript.contains("logged 1 time(s); wxid_shop2 sent 0 message(s)"),
        "{transcript}"
    );
    assert_eq!(
        report.outbox_counts,
        // 25 before reactivation; then two member lists, the scan's two
        // answers, two nudges and the stats; then the second account's pong;
        // then the owner's private notice of her refused edit.
        vec![("delivered".to_string(), 34)],
        "{transcript}"
    );
    assert!(
        transcript.contains("🤖 qunbot → 王姐 (private): 【群助手提醒】")
            && transcript.contains("配置修改未生效")
            && transcript.contains("请改成半角英文引号"),
        "{transcript}"
    );
    assert_eq!(
        count("message.group"),
        20,
        "the redelivered /ping is logged once, and so is the message both accounts saw"
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

    // The flash sale's countdown: each post once, in order.
    assert_eq!(count("schedule.sent"), 4, "{transcript}");
    let posts: Vec<usize> = ["【预告】", "【开抢】", "【最后机会】", "【已结束】"]
        .iter()
        .map(|p| {
            transcript
                .find(p)
                .unwrap_or_else(|| panic!("{p} in {transcript}"))
        })
        .collect();
    assert!(posts.windows(2).all(|w| w[0] < w[1]), "{transcript}");
    assert!(
        transcript.contains("⚠ 你的消息违反群规（链接）"),
        "{transcript}"
    );
    assert!(
        transcript.contains("qunbot recalls message"),
        "{transcript}"
    );
    assert!(
        transcript.contains("⚠ 你的消息含有违规内容（广告：加*"),
        "{transcript}"
    );
    assert_eq!(
        report.ledger.iter().map(|(_, _, b)| b).sum::<i64>(),
        20,
        "the tasks' 20 points; the red packet's rows sum to zero: {:?}",
        report.ledger
    );
    let hong = report
        .ledger
        .iter()
        .find(|(_, m, _)| m == "小红")
        .map(|r| r.2);
    assert!(
        hong.is_some_and(|b| b > 20),
        "小红 got her tasks' points and a share"
    );
    let comeback = report
        .coupons
        .iter()
        .filter(|c| c.pool == "comeback")
        .count();
    assert_eq!(report.coupons.len(), 1 + comeback, "{:?}", report.coupons);
    let arm = |name: &str| report.reactivation.get(name).copied().unwrap_or_default();
    assert_eq!(
        comeback as u64,
        arm("b").nudged,
        "each member nudged with variant b got a code"
    );
    assert_eq!(arm("a").due + arm("b").due + arm("holdout").due, 6);
    assert_eq!(arm("holdout").due, 1, "one in the holdout");
    assert_eq!(arm("holdout").nudged, 0, "and not nudged");
    assert_eq!(
        arm("a").reactivated + arm("b").reactivated,
        1,
        "one came back"
    );

    // Scene by scene: what each causes shows under its own heading, and nothing a
    // scene did not cause does (the QR picture's warning once showed under /ping).
    let scenes = scenes(&transcript);
    let expected = [
        ("gateway connects", "which account it is", 1),
        ("gateway connects", "which groups the account is in", 1),
        ("join requests", "qunbot approves 小美", 1),
        ("join requests", "qunbot rejects 广告号", 1),
        ("gateway connects", "qunbot reads the member list", 2),
        ("wave of newcomers", "qunbot: 欢迎 @小红 @小明 @小美", 1),
        ("new-member tasks", "完成新人任务「阅读群规」", 1),
        ("new-member tasks", "签到成功", 1),
        ("new-member tasks", "完成新人任务「首次签到」", 1),
        ("new-member tasks", "今天已经签到过了", 1),
        ("new-member tasks", "本群积分排行", 1),
        ("admin mutes", "已禁言 @小明", 1),
        ("admin mutes", "qunbot mutes 小明", 1),
        ("admin mutes", "只有管理员可以使用", 1),
        ("word filter", "qunbot recalls message", 1),
        ("word filter", "违规内容（广告", 1),
        ("QR code", "qunbot recalls message", 1),
        ("QR code", "违反群规（链接）", 1),
        ("flash sale counts down", "【预告】螺蛳粉限时秒杀", 1),
        ("flash sale counts down", "【开抢】螺蛳粉限时秒杀", 1),
        ("flash sale counts down", "【最后机会】螺蛳粉限时秒杀", 1),
        ("flash sale counts down", "【已结束】螺蛳粉限时秒杀", 1),
        ("lucky red packet", "30 积分的拼手气红包，共 3 份", 1),
        ("lucky red packet", "@小红 抢到", 1),
        (
            "lucky red packet",
            "红包已被抢完：3 人抢到 30 积分。手气最佳",
            1,
        ),
        ("silent members", "正在扫描本群的沉默成员", 1),
        (
            "silent members",
            "本次到期 6 人（待提醒 5 人，对照组 1 人）",
            1,
        ),
        ("silent members", "好久不见", 1),
        ("silent members", "送你一张限时返场券", 1),
        ("silent members", "沉默唤醒（全部群合计", 1),
        ("/ping travels", "[宝妈福利群] 🤖 qunbot: ↩ pong", 1),
        ("WeChat group", "[零食团购群] 🤖 qunbot: ↩ pong", 1),
        ("second account", "[零食团购群] 🤖 qunbot: ↩ pong", 1),
        ("outbox retries", "answered HTTP 503", 3),
        ("outbox retries", "[宝妈福利群] 🤖 qunbot: ↩ pong", 1),
        (
            "broken edit",
            "🤖 qunbot → 王姐 (private): 【群助手提醒】",
            1,
        ),
    ];
    for (scene, needle, n) in expected {
        assert_eq!(
            lines_in(&scenes, scene, needle),
            n,
            "{needle:?} under the heading naming {scene:?}:\n{transcript}"
        );
    }
    for (heading, lines) in &scenes {
        for line in lines
            .iter()
            .filter(|l| l.contains("🤖") || l.contains("answered HTTP"))
        {
            assert!(
                expected
                    .iter()
                    .any(|(scene, needle, _)| heading.contains(scene) && line.contains(needle)),
                "{line:?} is not what {heading:?} causes:\n{transcript}"
            );
        }
    }
}

/// The transcript cut into scenes: each heading (`── … ──`) with the lines under
/// it, up to the blank line before the summary.
fn scenes(transcript: &str) -> Vec<(&str, Vec<&str>)> {
    let mut scenes: Vec<(&str, Vec<&str>)> = Vec::new();
    for line in transcript.lines().take_while(|l| !l.is_empty()) {
        match scenes.last_mut() {
            _ if line.starts_with("── ") => scenes.push((line, Vec::new())),
            Some((_, lines)) => lines.push(line),
            None => panic!("a line before the first heading: {line}"),
        }
    }
    scenes
}

/// How many lines under the one heading that names `scene` contain `needle`.
fn lines_in(scenes: &[(&str, Vec<&str>)], scene: &str, needle: &str) -> usize {
    let named: Vec<_> = scenes.iter().filter(|(h, _)| h.contains(scene)).collect();
    assert_eq!(named.len(), 1, "one heading names {scene:?}: {scenes:#?}");
    named[0].1.iter().filter(|l| l.contains(needle)).count()
}
