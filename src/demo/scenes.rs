//! The demo's scenes, in the order they play: each pushes what members do and
//! waits until the gateway saw everything it causes.

use std::net::SocketAddr;

use anyhow::Context as _;
use chrono::Utc;
use serde_json::{json, Value};

use super::stage::{bot_messages, Note, Stage};
use super::transcript::render_message;
use crate::domain::{GroupKey, Id};
use crate::features::reactivation::{draw_arm, HOLDOUT};
use crate::gateway::onebot::signature;
use crate::simulator::events::{id_text, EventFactory, VirtualMember};
use crate::simulator::{Simulator, SimulatorOptions};
use crate::store::ReadModel;

/// The demo's people and groups.
struct Cast {
    f: EventFactory,
    shop: Value,
    snacks: Value,
    owner: VirtualMember,
    hong: VirtualMember,
    ming: VirtualMember,
    mei: VirtualMember,
    spam: VirtualMember,
    ahua: VirtualMember,
    silent: Vec<VirtualMember>,
}

/// Every scene, in order.
pub(super) async fn play(stage: &mut Stage) -> anyhow::Result<()> {
    let mut cast = cast(stage);
    connect(stage, &mut cast).await?;
    newcomers(stage, &mut cast).await?;
    commands(stage, &mut cast).await?;
    word_filter(stage, &mut cast).await?;
    schedules(stage, &mut cast).await?;
    reactivation_scene(stage, &mut cast.f, &cast.owner, &cast.silent).await?;
    delivery(stage, &mut cast).await?;
    second_account_scene(stage, &mut cast.f, &cast.snacks, &cast.ahua).await?;
    outage_and_the_rest(stage, &mut cast).await?;
    owner_told(stage).await
}

/// The members, named in the transcript, and the gateway's member list of
/// the shop's group: the owner, the newcomers to come, and six members who
/// joined two months ago and never spoke.
fn cast(stage: &mut Stage) -> Cast {
    let owner = VirtualMember::new(10001, "王姐", "owner");
    let hong = VirtualMember::new(10002, "小红", "member");
    let ming = VirtualMember::new(10003, "小明", "member");
    let mei = VirtualMember::new(10004, "小美", "member");
    let spam = VirtualMember::new(10666, "广告号", "member");
    let ahua = VirtualMember::new("wxid_ahua2024", "阿花", "member");
    for m in [&owner, &hong, &ming, &mei, &spam, &ahua] {
        stage.names.push((id_text(&m.id), m.nickname.clone()));
    }
    let now = Utc::now().timestamp();
    stage
        .sim
        .seat(123456, 10001000, "群助手", "admin", now - 90 * 86_400);
    for m in [&owner, &hong, &ming, &mei] {
        stage
            .sim
            .seat(123456, id_number(&m.id), &m.nickname, m.role, now);
    }
    let silent = silent_members(stage);
    for m in &silent {
        stage.names.push((id_text(&m.id), m.nickname.clone()));
        stage.sim.seat(
            123456,
            id_number(&m.id),
            &m.nickname,
            "member",
            now - 60 * 86_400,
        );
    }
    Cast {
        f: EventFactory::new(10001000),
        shop: json!(123456),
        snacks: json!("35214638@chatroom"),
        owner,
        hong,
        ming,
        mei,
        spam,
        ahua,
        silent,
    }
}

/// Before anything the simulator saw: the daemon asks at its start.
async fn connect(stage: &mut Stage, c: &mut Cast) -> anyhow::Result<()> {
    stage.notes.push(Note {
        after: 0,
        text:
            "── the gateway connects; qunbot asks which account it is and which groups it is in ──"
                .into(),
    });
    stage.push(&c.f.lifecycle("connect")).await?;
    stage.performed("get_group_list", 1).await?;
    // Each group's member list is read once the account is known to be in it.
    stage.performed("get_group_member_list", 2).await?;
    Ok(())
}

/// Join requests, a wave of newcomers, their tasks, points and coupons.
async fn newcomers(stage: &mut Stage, c: &mut Cast) -> anyhow::Result<()> {
    let cooldown = stage.daemon.config().commands.cooldown;
    stage.say("── join requests are decided by their answer ──");
    stage
        .push(&c.f.join_request(&c.shop, &c.mei, "我是宝妈，想进群", "request-10004"))
        .await?;
    stage
        .push(&c.f.join_request(&c.shop, &c.spam, "加我看高收益项目", "request-10666"))
        .await?;
    stage.performed("set_group_add_request", 2).await?;
    // The group's first event also asks for its member list (reactivation).
    stage.performed("get_group_member_list", 1).await?;

    stage.say("── a wave of newcomers gets one welcome ──");
    stage.push(&c.f.joined(&c.shop, &c.hong, None)).await?;
    stage
        .push(&c.f.joined(&c.shop, &c.ming, Some(&c.owner)))
        .await?;
    stage.push(&c.f.joined(&c.shop, &c.mei, None)).await?;
    // The welcome goes out when the wave's window closes.
    stage.bot_said("欢迎", 1).await?;

    stage.say("── new-member tasks, points and coupons ──");
    stage
        .push(&c.f.group_message(&c.shop, &c.hong, json!("大家好！群规已读[CQ:face,id=178]")))
        .await?;
    stage.bot_said("完成新人任务「阅读群规」", 1).await?;
    stage
        .push(&c.f.group_message(&c.shop, &c.hong, json!("/签到")))
        .await?;
    stage.bot_said("签到成功", 1).await?;
    stage.bot_said("完成新人任务「首次签到」", 1).await?;
    // Members' commands have a cooldown: move the daemon's clock past it, so the
    // second check-in shows the daily limit rather than the cooldown.
    stage
        .clock
        .skip(chrono::Duration::from_std(cooldown).unwrap_or_default());
    stage
        .push(&c.f.group_message(&c.shop, &c.hong, json!("/签到")))
        .await?;
    stage
        .push(&c.f.group_message(
            &c.shop,
            &c.ming,
            json!([{"type": "text", "data": {"text": "/排行"}}]),
        ))
        .await?;
    stage.bot_said("今天已经签到过了", 1).await?;
    stage.bot_said("本群积分排行", 1).await?;

    Ok(())
}

/// An admin's command and a member's refused one.
async fn commands(stage: &mut Stage, c: &mut Cast) -> anyhow::Result<()> {
    stage.say("── an admin mutes a member; a member may not kick ──");
    let mute = json!([
        {"type": "text", "data": {"text": "/禁言 "}},
        {"type": "at", "data": {"qq": "10003"}},
        {"type": "text", "data": {"text": " 10分钟"}}
    ]);
    stage
        .push(&c.f.group_message(&c.shop, &c.owner, mute))
        .await?;
    let kick = json!([{"type": "text", "data": {"text": "/踢 "}}, {"type": "at", "data": {"qq": "10001"}}]);
    stage
        .push(&c.f.group_message(&c.shop, &c.mei, kick))
        .await?;
    stage.bot_said("已禁言", 1).await?;
    stage.performed("set_group_ban", 1).await?;
    stage.bot_said("只有管理员可以使用", 1).await?;

    Ok(())
}

/// Harmless words pass; an ad and a QR code in a picture are recalled.
async fn word_filter(stage: &mut Stage, c: &mut Cast) -> anyhow::Result<()> {
    stage
        .say("── the word filter: harmless words pass; an ad is recalled and its sender warned ──");
    stage
        .push(&c.f.group_message(
            &c.shop,
            &c.hong,
            json!("今年出口交易额涨了，路口交通也顺了"),
        ))
        .await?;
    stage
        .push(&c.f.group_message(&c.shop, &c.mei, json!("想赚零花钱的加 群，兼职日结")))
        .await?;
    // The ad is the barrier for the harmless message: the engine acts on events in
    // order and the outbox delivers a group's actions in order, so once the ad's
    // recall and warning are out, anything about the message before it would be too.
    stage.performed("delete_msg", 1).await?;
    stage.bot_said("违规内容（广告", 1).await?;

    stage.say("── a picture with a QR code: read off the engine, recalled like a link ──");
    let qr = stage
        .sim
        .host_qr_code("group-qr.png", "https://weixin.qq.com/g/AbCdEf");
    let picture = json!([{"type": "image", "data": {"file": "group-qr.png", "url": qr}}]);
    stage
        .push(&c.f.group_message(&c.shop, &c.mei, picture))
        .await?;
    stage.performed("delete_msg", 2).await?;
    stage.bot_said("违反群规（链接）", 1).await?;

    Ok(())
}

/// A flash sale's countdown and a lucky red packet.
async fn schedules(stage: &mut Stage, c: &mut Cast) -> anyhow::Result<()> {
    stage.say("── a flash sale counts down (the clock is moved ahead to each post) ──");
    stage.skip(chrono::Duration::minutes(50));
    stage.bot_said("【预告】螺蛳粉限时秒杀", 1).await?;
    stage.skip(chrono::Duration::minutes(10));
    stage.bot_said("【开抢】螺蛳粉限时秒杀", 1).await?;
    stage.skip(chrono::Duration::minutes(25));
    stage.bot_said("【最后机会】螺蛳粉限时秒杀", 1).await?;
    stage.skip(chrono::Duration::minutes(5));
    stage.bot_said("【已结束】螺蛳粉限时秒杀", 1).await?;

    stage.say("── a lucky red packet: split when opened, grabbed to the end ──");
    stage
        .push(&c.f.group_message(&c.shop, &c.owner, json!("/红包 30 3")))
        .await?;
    stage.bot_said("30 积分的拼手气红包，共 3 份", 1).await?;
    for grabber in [&c.hong, &c.ming, &c.owner] {
        stage
            .push(&c.f.group_message(&c.shop, grabber, json!("抢")))
            .await?;
    }
    stage.bot_said("红包已被抢完：3 人抢到 30 积分", 1).await?;

    Ok(())
}

/// `/ping` end to end, a redelivery, a forged and a broken push, a WeChat group.
async fn delivery(stage: &mut Stage, c: &mut Cast) -> anyhow::Result<()> {
    stage.say("── /ping travels webhook → SQLite → engine → outbox → gateway ──");
    let ping = c.f.group_message(&c.shop, &c.owner, json!("/ping"));
    stage.push(&ping).await?;
    stage.pongs(1).await?;

    stage.say("── the gateway redelivers the same event: logged once, answered once ──");
    // The 204 is the whole effect: the journal recognises a redelivery in the
    // transaction it answers after, and never passes it on to the engine.
    stage.push(&ping).await?;

    stage
        .say("── someone forges a push, and a broken one arrives: both refused, neither logged ──");
    // Refused before the journal: the daemon's answer is the whole effect.
    let forged = serde_json::to_vec(&c.f.group_message(&c.shop, &c.owner, json!("/ping")))?;
    stage
        .sim
        .push_raw(
            forged,
            Some("sha1=0000000000000000000000000000000000000000".into()),
        )
        .await?;
    let broken = b"{\"post_type\": ".to_vec();
    let signed = signature::sign(stage.secret.as_bytes(), &broken);
    stage.sim.push_raw(broken, Some(signed)).await?;

    stage.say("── a WeChat group: string ids go in and come back out as strings ──");
    stage
        .push(&c.f.group_message(&c.snacks, &c.ahua, json!("/ping")))
        .await?;
    stage.pongs(2).await?;
    stage.performed("get_group_member_list", 2).await?;

    Ok(())
}

/// A gateway outage the outbox rides out, and events qunbot only logs.
async fn outage_and_the_rest(stage: &mut Stage, c: &mut Cast) -> anyhow::Result<()> {
    stage.say(
        "── the gateway is down (503) for three tries: the outbox retries until it is back ──",
    );
    // An outage of a number of tries, not of seconds: the transcript does not
    // depend on how fast the machine runs the retries.
    stage.sim.fail_next(3, 503);
    stage
        .push(&c.f.group_message(&c.shop, &c.owner, json!("/ping")))
        .await?;
    stage.pongs(4).await?;

    stage.say("── events qunbot does not act on are still logged ──");
    stage
        .push(&c.f.file_uploaded(&c.shop, &c.owner, "本周团购清单.xlsx"))
        .await?;
    stage.push(&c.f.left(&c.shop, &c.ming)).await?;
    stage.push(&c.f.heartbeat()).await?;
    Ok(())
}

/// The owner saves a broken edit: refused, the running config stays, and she
/// is told privately, in Chinese (the last scene: a later valid save would
/// replace the demo's sped-up settings with the file's).
async fn owner_told(stage: &mut Stage) -> anyhow::Result<()> {
    stage.say("── the owner saves a broken edit: refused, the old rules keep running, she is told privately ──");
    let path = stage.daemon.config().path.clone();
    let text = std::fs::read_to_string(&path).context("reading the demo's config")?;
    // Typed with a Chinese input method: full-width quotes.
    let shipped = "[commands]\ncooldown = \"3s\"";
    anyhow::ensure!(
        text.contains(shipped),
        "the shipped [commands] section changed"
    );
    let broken = text.replacen(shipped, "[commands]\ncooldown = “3秒”", 1);
    let saved = path.with_extension("toml.swp");
    std::fs::write(&saved, broken).context("writing the edit")?;
    std::fs::rename(&saved, &path).context("saving the edit")?;
    // The reloader's outcome reaches the features as an event: once it is
    // acted on, the owner's notice waits up to a minute for company.
    stage.logged("config.reload", 1).await?;
    stage.handled().await?;
    stage.skip(chrono::Duration::minutes(1));
    stage
        .until("the owner's notice", |sim| {
            sim.performed("send_private_msg")
                .iter()
                .any(|c| render_message(&[], &c.params["message"]).contains("群助手提醒"))
        })
        .await
}

/// A second account of the shop's (a WeChat bridge behind NAT) dials the
/// daemon's reverse WebSocket and is in the WeChat group too: both accounts see
/// 阿花's message; it is logged and answered once, by the group's one voice.
async fn second_account_scene(
    stage: &mut Stage,
    f: &mut EventFactory,
    snacks: &Value,
    ahua: &VirtualMember,
) -> anyhow::Result<()> {
    stage.say(
        "── a second account dials in over reverse WebSocket; in the group both are in, \
         a message is logged and answered once ──",
    );
    let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
    let bridge = Simulator::start(
        loopback,
        SimulatorOptions::new("demo-access-token", "demo-secret").as_account(SECOND_ACCOUNT),
    )
    .await
    .context("starting the second account's bridge")?;
    bridge.join_group(snacks.clone(), "零食团购群");
    let url = format!("ws://{}/onebot/ws", stage.daemon.addr());
    bridge
        .dial_daemon(&url)
        .await
        .context("dialling the daemon's reverse WebSocket")?;
    stage.logged("sync.account", 2).await?;
    stage.say(&format!(
        "🔌 {SECOND_ACCOUNT} dialled {url} (X-Self-ID, bearer token, role Universal); \
         qunbot asked it which account it is and which groups it is in"
    ));
    // 阿花 just asked: past her command cooldown, as a member would be.
    let cooldown = stage.daemon.config().commands.cooldown;
    stage.skip(chrono::Duration::from_std(cooldown)? + chrono::Duration::seconds(1));
    let ping = f.group_message(snacks, ahua, json!("/ping"));
    let mut copy = ping.clone();
    copy["self_id"] = json!(SECOND_ACCOUNT);
    copy["message_id"] = json!(880_001);
    // The first account's copy first (answered 204 once stored), so the answer
    // quotes the message by the id the voice gave it; the second copy is then
    // recognised as the same message.
    stage.push(&ping).await?;
    bridge
        .push(&copy)
        .await
        .context("pushing over the socket")?;
    stage.pongs(3).await?;
    let copies = stage
        .daemon
        .store()
        .events_of_kind("message.group")
        .await?
        .into_iter()
        .filter(|e| !e.detail["heard_by"].is_null())
        .count();
    stage.say(&format!(
        "(阿花's message came in through both accounts: logged {copies} time(s); \
         {SECOND_ACCOUNT} sent {} message(s), the group's first account answered)",
        bridge.performed("send_group_msg").len()
    ));
    bridge.stop().await;
    Ok(())
}

/// The demo's second account: a WeChat bridge that dials in.
const SECOND_ACCOUNT: &str = "wxid_shop2";

/// The member list synced at the group's first event brought in six members
/// who never spoke; the owner scans, they are nudged by arm (the holdout is
/// recorded, not mentioned), and one of them comes back.
async fn reactivation_scene(
    stage: &mut Stage,
    f: &mut EventFactory,
    owner: &VirtualMember,
    silent: &[VirtualMember],
) -> anyhow::Result<()> {
    let shop = json!(123456);
    stage.say(
        "── silent members: the owner scans; they are nudged by arm (20 % holdout, not nudged); one comes back ──",
    );
    let config = stage.daemon.config();
    let reactivation = &config.reactivation;
    let group = GroupKey {
        account: Id::number(10001000),
        group: Id::number(123456),
    };
    let arm_of = |m: &VirtualMember| draw_arm(&group, &Id::number(id_number(&m.id)), reactivation);
    let mut per_arm: std::collections::BTreeMap<String, usize> = Default::default();
    for m in silent {
        *per_arm.entry(arm_of(m)).or_default() += 1;
    }
    let per_message = reactivation.per_message as usize;
    let messages: usize = per_arm
        .iter()
        .filter(|(arm, _)| arm.as_str() != HOLDOUT)
        .map(|(_, n)| n.div_ceil(per_message))
        .sum();
    let returner = silent
        .iter()
        .find(|m| arm_of(m) != HOLDOUT)
        .context("a silent member in a nudged arm")?;
    stage
        .push(&f.group_message(&shop, owner, json!("/沉默 扫描")))
        .await?;
    stage.bot_said("扫描完成", 1).await?;
    stage.logged("reactivation.nudged", messages).await?;
    stage
        .until(&format!("{messages} nudge message(s)"), |sim| {
            bot_messages(sim)
                .iter()
                .filter(|m| m.contains("好久不见") || m.contains("返场券"))
                .count()
                >= messages
        })
        .await?;
    stage
        .push(&f.group_message(&shop, returner, json!("我回来啦，最近太忙了")))
        .await?;
    stage.logged("reactivation.reactivated", 1).await?;
    stage
        .push(&f.group_message(&shop, owner, json!("/沉默 效果")))
        .await?;
    stage.bot_said("唤醒率", 1).await?;
    Ok(())
}

/// Six members who never spoke, with ids picked so that one of them falls in
/// the holdout: six draws at 20 % often hold none, and the scene shows both.
fn silent_members(stage: &Stage) -> Vec<VirtualMember> {
    let config = stage.daemon.config();
    let group = GroupKey {
        account: Id::number(10001000),
        group: Id::number(123456),
    };
    let in_holdout = |id: i64| draw_arm(&group, &Id::number(id), &config.reactivation) == HOLDOUT;
    let first = (10011..10111).find(|id| in_holdout(*id)).unwrap_or(10011);
    let others = (10011..)
        .filter(|id| *id != first && !in_holdout(*id))
        .take(5);
    ["老李", "阿珍", "大刘", "小芳", "阿May", "老周"]
        .iter()
        .zip(std::iter::once(first).chain(others))
        .map(|(name, id)| VirtualMember::new(id, name, "member"))
        .collect()
}

/// An id value as a number (the demo's QQ-style members).
fn id_number(id: &Value) -> i64 {
    id.as_i64().unwrap_or_default()
}
