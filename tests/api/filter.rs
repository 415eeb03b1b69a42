//! The word filter in the running daemon.

use qunbot::simulator::events::VirtualMember;
use serde_json::json;

use crate::helpers::{spawn_app_configured, PATIENCE};

const FILTER: &str = r#"
[filter]
words_file = "words.txt"
[filter.categories.ad]
actions = ["recall", "warn"]
[filter.escalation]
strikes = 3
window = "1d"
then = "kick"
"#;

fn spammer() -> VirtualMember {
    VirtualMember::new(70001, "广告哥", "member")
}

#[tokio::test]
async fn a_number_in_dingbat_digits_or_chinese_numerals_is_caught_and_says_how() {
    let mut app = spawn_app_configured(FILTER, None).await;
    // Events are handled in order: once the two ads are logged, the plain
    // sentence before them has been judged.
    app.member_says(&spammer(), "我们一起十分开心").await;
    app.member_says(&spammer(), "快加V❽❽❽有福利").await;
    app.member_says(&spammer(), "快加v捌捌捌有福利").await;

    let hits = app.wait_logged("filter.hit", 2).await;
    assert_eq!(hits.len(), 2, "the plain sentence is left alone");
    let found: Vec<(&str, &str)> = hits
        .iter()
        .map(|h| {
            let hit = &h.detail["hits"][0];
            (hit["word"].as_str().unwrap(), hit["via"].as_str().unwrap())
        })
        .collect();
    assert_eq!(found, [("加v888", "digits"), ("加v888", "numerals")]);
    app.sim.wait_for("delete_msg", 2, PATIENCE).await;
}

/// The daemon with homophones on for `[fraud]`: the word and fold of the one
/// hit `text` gets, as logged.
async fn caught(text: &str) -> (String, String) {
    let config = format!("{FILTER}\n[filter.categories.fraud]\nhomophones = true\n");
    let mut app = spawn_app_configured(&config, None).await;
    app.member_says(&spammer(), text).await;
    let hits = app.wait_logged("filter.hit", 1).await;
    let hit = &hits[0].detail["hits"][0];
    app.sim.wait_for("delete_msg", 1, PATIENCE).await;
    (
        hit["word"].as_str().unwrap().to_string(),
        hit["via"].as_str().unwrap().to_string(),
    )
}

fn pair(word: &str, via: &str) -> (String, String) {
    (word.to_string(), via.to_string())
}

#[tokio::test]
async fn a_variant_character_is_caught_as_the_listed_word() {
    assert_eq!(caught("低价売号").await, pair("卖号", "variant"));
}

#[tokio::test]
async fn cyrillic_look_alike_letters_in_a_latin_word_are_caught() {
    assert_eq!(caught("加wеіxin详聊").await, pair("weixin", "lookalike"));
}

#[tokio::test]
async fn a_word_half_written_in_pinyin_is_caught() {
    assert_eq!(caught("我的wei信hao是这个").await, pair("微信号", "pinyin"));
}

#[tokio::test]
async fn a_homophone_is_caught_where_the_category_asks_and_names_the_listed_word() {
    assert_eq!(caught("专业办假症").await, pair("办假证", "homophone"));
}

#[tokio::test]
async fn an_ad_is_recalled_and_its_sender_warned() {
    let mut app = spawn_app_configured(FILTER, None).await;
    let ad = app.member_says(&spammer(), "想要优惠的加@群").await;

    let recalls = app.sim.wait_for("delete_msg", 1, PATIENCE).await;
    assert_eq!(recalls.len(), 1);
    assert_eq!(recalls[0].params["message_id"], ad["message_id"]);
    let chat = app.wait_chat("违规内容").await;
    let warning = chat.iter().find(|t| t.contains("违规内容")).unwrap();
    assert!(
        warning.contains("加*") && !warning.contains("加群"),
        "{warning}"
    );

    let hits = app.wait_logged("filter.hit", 1).await;
    assert_eq!(
        hits[0].detail["hits"][0],
        json!({"word": "加群", "category": "ad", "start": 5, "end": 8, "via": "normalized"})
    );
    assert_eq!(hits[0].detail["actions"], json!(["recall", "warn"]));
}

#[tokio::test]
async fn the_third_strike_kicks_even_across_a_restart() {
    let mut app = spawn_app_configured(FILTER, None).await;
    let member = spammer();
    app.member_says(&member, "加群").await;
    app.member_says(&member, "加 群").await;
    app.wait_logged("filter.hit", 2).await;
    app.restart_daemon().await;
    assert!(app.sim.performed("set_group_kick").is_empty());
    app.member_says(&member, "加.群").await;

    let kicks = app.sim.wait_for("set_group_kick", 1, PATIENCE).await;
    assert_eq!(kicks.len(), 1);
    assert_eq!(kicks[0].params["user_id"], json!(member.id));
    app.wait_chat("违规 3 次，已被移出本群").await;
}

#[tokio::test]
async fn a_broken_word_list_edit_keeps_the_old_list_working() {
    let mut app = spawn_app_configured(FILTER, None).await;
    let words = app.dir.path().join("words.txt");
    std::fs::write(&words, "这一行在任何分类之前\n[ad]\n加群\n刷单\n").unwrap();

    let problem = app.first_rejection().await;
    assert!(
        problem
            .ends_with("words.txt:1:1: `这一行在任何分类之前` comes before any [category] header"),
        "{problem}"
    );
    app.member_says(&spammer(), "刷单").await;
    app.member_says(&VirtualMember::new(70002, "b", "member"), "加群")
        .await;
    let group = app.group.clone();
    app.barrier(&group).await;
    assert_eq!(
        app.sim.performed("delete_msg").len(),
        1,
        "only the old list's word hits"
    );

    std::fs::write(&words, "[ad]\n加群\n刷单\n").unwrap();
    app.wait_logged("config.reloaded", 1).await;
    app.member_says(&VirtualMember::new(70003, "c", "member"), "刷单")
        .await;
    assert_eq!(
        app.sim.wait_for("delete_msg", 2, PATIENCE).await.len(),
        2,
        "the new word hits"
    );
}

#[tokio::test]
async fn an_admin_adds_and_deletes_words_in_the_chat_and_the_file_keeps_its_comments() {
    let mut app = spawn_app_configured(FILTER, None).await;
    let words = app.dir.path().join("words.txt");
    std::fs::write(&words, "# 我们的词库\n[ad]\n加群\n# 广告类结束\n").unwrap();
    app.wait_logged("config.reloaded", 1).await;
    let admin = VirtualMember::new(70100, "群管", "admin");

    app.member_says(&admin, "/words add fraud 刷单").await;
    app.wait_chat("已把「刷单」加入 [fraud]").await;
    app.wait_logged("config.reloaded", 2).await;
    assert_eq!(
        std::fs::read_to_string(&words).unwrap(),
        "# 我们的词库\n[ad]\n加群\n# 广告类结束\n\n[fraud]\n刷单\n"
    );
    app.member_says(&spammer(), "刷 单了").await;
    assert_eq!(app.sim.wait_for("delete_msg", 1, PATIENCE).await.len(), 1);

    app.member_says(&admin, "/words del 加群").await;
    app.wait_chat("已从词库删除「加群」").await;
    app.wait_logged("config.reloaded", 3).await;
    app.member_says(&VirtualMember::new(70004, "d", "member"), "加群")
        .await;
    let group = app.group.clone();
    app.barrier(&group).await;
    assert_eq!(
        app.sim.performed("delete_msg").len(),
        1,
        "the deleted word no longer hits"
    );
    app.member_says(&admin, "/words del 不存在").await;
    app.wait_chat("词库里没有「不存在」").await;
}

fn blank_png() -> Vec<u8> {
    let mut png = Vec::new();
    image::GrayImage::from_pixel(200, 200, image::Luma([240]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("png");
    png
}

#[tokio::test]
async fn a_qr_code_image_is_recalled_and_its_sender_warned() {
    let mut app = spawn_app_configured(FILTER, None).await;
    let url = app
        .sim
        .host_qr_code("qr.png", "https://u.wechat.com/evil-shop");
    let posted = app.member_posts_image(&spammer(), &url).await;

    let recalls = app.sim.wait_for("delete_msg", 1, PATIENCE).await;
    assert_eq!(recalls.len(), 1);
    assert_eq!(recalls[0].params["message_id"], posted["message_id"]);
    app.wait_chat("违反群规（链接）").await;
    let found = app.wait_logged("media.qr_codes", 1).await;
    assert_eq!(
        found[0].detail["body"]["codes"],
        json!(["https://u.wechat.com/evil-shop"])
    );
    let hits = app.wait_logged("filter.hit", 1).await;
    assert_eq!(hits[0].detail["hits"][0]["word"], "qr_code");
}

#[tokio::test]
async fn pictures_without_a_code_and_unreadable_ones_are_left_alone() {
    let mut app = spawn_app_configured(FILTER, None).await;
    let photo = app.sim.host_image("photo.png", blank_png());
    let garbage = app
        .sim
        .host_image("broken.png", b"<html>503</html>".to_vec());
    let missing = format!("http://{}/_media/gone.png", app.sim.addr());
    let qr = app.sim.host_qr_code("qr.png", "加我微信 abc123");
    for url in [&photo, &garbage, &missing] {
        app.member_posts_image(&VirtualMember::new(70010, "晒单", "member"), url)
            .await;
    }
    // Images are read one at a time, in order: once the code's message is
    // recalled, the three before it were read and found clean.
    let posted = app.member_posts_image(&spammer(), &qr).await;

    let recalls = app.sim.wait_for("delete_msg", 1, PATIENCE).await;
    assert_eq!(recalls.len(), 1);
    assert_eq!(recalls[0].params["message_id"], posted["message_id"]);
    assert_eq!(app.logged("media.qr_codes").await.len(), 1);
}
