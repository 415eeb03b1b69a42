use std::time::Duration;

use super::*;

const MINIMAL: &str = r#"
[gateway]
api_url = "http://127.0.0.1:5700"
listen = "127.0.0.1:8080"
"#;

fn parse(text: &str, env: &Env) -> Result<Config, ConfigError> {
    Config::parse(Path::new("bot-config.toml"), text, env)
}

fn problems(text: &str) -> Vec<String> {
    parse(text, &Env::default()).unwrap_err().problems()
}

#[test]
fn a_minimal_file_gets_conservative_defaults() {
    let c = parse(MINIMAL, &Env::default()).unwrap();
    assert_eq!(c.timezone, chrono_tz::Asia::Shanghai);
    assert_eq!(c.outbox.group_interval, Duration::from_secs(3));
    assert_eq!(c.storage.database, PathBuf::from("qunbot.db"));
    assert!(c.admins.trust_group_roles);
}

#[test]
fn unknown_keys_are_refused_with_their_line_and_column() {
    let p = problems("[gateway]\nlisten = \"127.0.0.1:1\"\nlisen = \"x\"\n");
    assert_eq!(p.len(), 1);
    assert!(
        p[0].starts_with("bot-config.toml:3:1: unknown field `lisen`"),
        "{p:?}"
    );
}

#[test]
fn a_bad_duration_points_at_its_value() {
    let p = problems("[gateway]\n[outbox]\ngroup_interval = \"soon\"\n");
    assert!(p[0].starts_with("bot-config.toml:3:18:"), "{p:?}");
    assert!(p[0].contains("not a duration"), "{p:?}");
}

#[test]
fn every_semantic_problem_is_reported_at_once() {
    let text = "timezone = \"Mars/Olympus\"\n[gateway]\nlisten = \"nowhere\"\n[[groups]]\nid = 1\n[[groups]]\nid = 1\n";
    let p = problems(text);
    assert_eq!(p.len(), 3, "{p:?}");
    assert!(
        p[0].starts_with("bot-config.toml:1:12: unknown time zone"),
        "{p:?}"
    );
    assert!(p[1].starts_with("bot-config.toml:3:10:"), "{p:?}");
    assert!(
        p[2].starts_with("bot-config.toml:7:6: group 1 is listed twice"),
        "{p:?}"
    );
}

#[test]
fn references_expand_from_the_environment_and_overrides_win() {
    let text = format!("{MINIMAL}access_token = \"${{TOKEN}}\"\n");
    let env = Env::default()
        .with("TOKEN", "from-file-ref")
        .with("QUNBOT_LISTEN", "127.0.0.1:9999")
        .with("QUNBOT_SECRET", "s3cret");
    let c = parse(&text, &env).unwrap();
    use secrecy::ExposeSecret;
    assert_eq!(
        c.gateway.access_token.as_ref().unwrap().expose_secret(),
        "from-file-ref"
    );
    assert_eq!(c.gateway.secret.as_ref().unwrap().expose_secret(), "s3cret");
    assert_eq!(c.gateway.listen.port(), 9999);
}

#[test]
fn a_missing_variable_is_reported_where_it_is_referenced() {
    let text = format!("{MINIMAL}secret = \"${{NOT_SET_ANYWHERE}}\"\n");
    let p = problems(&text);
    assert!(
        p[0].contains(":5:10: environment variable NOT_SET_ANYWHERE is not set"),
        "{p:?}"
    );
}

#[test]
fn a_bad_override_names_the_variable() {
    let env = Env::default().with("QUNBOT_GATEWAY_API_URL", "ftp://x");
    let p = parse(MINIMAL, &env).unwrap_err().problems();
    assert!(
        p[0].starts_with("environment variable QUNBOT_GATEWAY_API_URL:"),
        "{p:?}"
    );
}

#[test]
fn secrets_never_show_in_debug_output() {
    let env = Env::default()
        .with("QUNBOT_ACCESS_TOKEN", "tok-123456")
        .with("QUNBOT_SECRET", "sec-654321");
    let c = parse(MINIMAL, &env).unwrap();
    let debug = format!("{c:?}");
    assert!(
        !debug.contains("tok-123456") && !debug.contains("sec-654321"),
        "{debug}"
    );
}

#[test]
fn string_and_numeric_group_ids_are_both_managed() {
    let text = format!(
        "{MINIMAL}[[groups]]\nid = 123\n[[groups]]\nid = \"abc@chatroom\"\nname = \"宝妈群\"\n"
    );
    let c = parse(&text, &Env::default()).unwrap();
    assert!(c.is_managed(&Id::text("123")));
    assert!(c.is_managed(&Id::text("abc@chatroom")));
    assert_eq!(c.group(&Id::text("abc@chatroom")).unwrap().name, "宝妈群");
    assert!(!c.is_managed(&Id::number(999)));
}

#[test]
fn accounts_may_have_their_own_gateway_and_others_use_the_default() {
    let text = format!(
        "{MINIMAL}access_token = \"main\"\n[[gateway.accounts]]\nself_id = \"wxid_bot2\"\napi_url = \"http://127.0.0.1:5801/\"\naccess_token = \"second\"\n"
    );
    let c = parse(&text, &Env::default()).unwrap();
    use secrecy::ExposeSecret;
    let (url, token) = c.gateway.endpoint_for(&Id::text("wxid_bot2"));
    assert_eq!(
        (url.as_str(), token.unwrap().expose_secret()),
        ("http://127.0.0.1:5801/", "second")
    );
    let (url, token) = c.gateway.endpoint_for(&Id::number(1));
    assert_eq!(
        (url.as_str(), token.unwrap().expose_secret()),
        ("http://127.0.0.1:5700/", "main")
    );
}

#[test]
fn a_database_in_a_folder_that_does_not_exist_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{MINIMAL}[storage]\ndatabase = \"missing/q.db\"\n");
    let err = Config::parse(&dir.path().join("c.toml"), &text, &Env::default()).unwrap_err();
    let p = err.problems();
    assert!(
        p[0].contains("c.toml:6:12: the database's folder")
            && p[0].ends_with("missing does not exist"),
        "{p:?}"
    );
}

#[test]
fn an_empty_secret_in_the_file_is_an_error_at_its_position() {
    let text = format!("{MINIMAL}secret = \"\"\n");
    let p = problems(&text);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("bot-config.toml:5:10: the secret is empty"),
        "{p:?}"
    );
}

#[test]
fn a_secret_reference_that_expands_to_nothing_is_an_error_too() {
    for value in ["${EMPTY}", "${UNSET_HERE:-}"] {
        let text = format!("{MINIMAL}secret = \"{value}\"\n");
        let p = parse(&text, &Env::default().with("EMPTY", ""))
            .unwrap_err()
            .problems();
        assert!(
            p[0].starts_with("bot-config.toml:5:10: the secret is empty"),
            "{value}: {p:?}"
        );
    }
}

#[test]
fn an_empty_secret_override_is_an_error_naming_the_variable() {
    // Even over a file that has a secret: the override wins, so it must not be ignored.
    let text = format!("{MINIMAL}secret = \"from-file\"\n");
    let p = parse(&text, &Env::default().with("QUNBOT_SECRET", ""))
        .unwrap_err()
        .problems();
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("environment variable QUNBOT_SECRET: the secret is empty"),
        "{p:?}"
    );
}

#[test]
fn an_empty_access_token_is_an_error_wherever_it_is_set() {
    let text = format!("{MINIMAL}access_token = \"\"\n");
    assert!(
        problems(&text)[0].starts_with("bot-config.toml:5:16: the access token is empty"),
        "{:?}",
        problems(&text)
    );
    let p = parse(MINIMAL, &Env::default().with("QUNBOT_ACCESS_TOKEN", ""))
        .unwrap_err()
        .problems();
    assert!(
        p[0].starts_with("environment variable QUNBOT_ACCESS_TOKEN: the access token is empty"),
        "{p:?}"
    );
    let text = format!(
        "{MINIMAL}[[gateway.accounts]]\nself_id = 2\napi_url = \"http://127.0.0.1:5801/\"\naccess_token = \"\"\n"
    );
    let p = problems(&text);
    assert!(
        p[0].starts_with("bot-config.toml:8:16: the access token is empty"),
        "{p:?}"
    );
}

#[test]
fn no_secret_loads_with_a_warning_at_the_gateway_table() {
    let c = parse(MINIMAL, &Env::default()).unwrap();
    assert!(c.gateway.secret.is_none());
    let w: Vec<String> = c.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with("bot-config.toml:2:1: warning: no gateway.secret")
            && w[0].contains("unsigned events pushed to the webhook will be accepted")
            && w[0].contains("--insecure"),
        "{w:?}"
    );

    let env = Env::default().with("QUNBOT_SECRET", "s");
    assert!(parse(MINIMAL, &env).unwrap().warnings.is_empty());
}

#[test]
fn the_warning_says_when_run_will_refuse_the_configured_listen() {
    let env = Env::default().with("QUNBOT_LISTEN", "0.0.0.0:8080");
    let c = parse(MINIMAL, &env).unwrap();
    let w = c.warnings[0].to_string();
    assert!(
        w.contains("`qunbot run` will refuse to listen on 0.0.0.0:8080"),
        "{w}"
    );
}

#[test]
fn without_a_secret_only_loopback_may_listen_unless_insecure() {
    let at = |listen: &str, secret: Option<&str>| {
        let mut env = Env::default().with("QUNBOT_LISTEN", listen);
        if let Some(s) = secret {
            env = env.with("QUNBOT_SECRET", s);
        }
        parse(MINIMAL, &env).unwrap()
    };
    for loopback in [
        "127.0.0.1:8080",
        "127.3.2.1:1",
        "[::1]:8080",
        "[::ffff:127.0.0.1]:8080",
    ] {
        assert_eq!(
            at(loopback, None).exposure(false).unwrap(),
            Exposure::UnsignedLoopback,
            "{loopback}"
        );
    }
    for exposed in ["0.0.0.0:8080", "[::]:8080", "192.168.1.5:8080"] {
        let c = at(exposed, None);
        let refused = c.exposure(false).unwrap_err().to_string();
        assert!(
            refused.contains(exposed) && refused.contains("--insecure"),
            "{refused}"
        );
        assert_eq!(c.exposure(true).unwrap(), Exposure::UnsignedExposed);
        assert_eq!(
            at(exposed, Some("s")).exposure(false).unwrap(),
            Exposure::Signed
        );
    }
}

#[test]
fn a_reverse_websocket_off_loopback_needs_the_access_token_too() {
    let env = Env::default()
        .with("QUNBOT_LISTEN", "0.0.0.0:8080")
        .with("QUNBOT_SECRET", "s");
    let ws = "[gateway]\ntransport = \"ws-reverse\"\n";
    let refused = parse(ws, &env)
        .unwrap()
        .exposure(false)
        .unwrap_err()
        .to_string();
    assert!(refused.contains("gateway.access_token"), "{refused}");
    let with_token = env.with("QUNBOT_ACCESS_TOKEN", "t");
    assert_eq!(
        parse(ws, &with_token).unwrap().exposure(false).unwrap(),
        Exposure::Signed
    );
}

const ONE_GROUP: &str = "[gateway]\n[[groups]]\nid = 1\n";

#[test]
fn a_bad_cron_schedule_is_refused_at_its_position_with_the_reason() {
    let p = problems(&format!(
        "{ONE_GROUP}[[announcements]]\nid = \"m\"\ncron = \"0 0 25 * * *\"\ntext = \"x\"\n"
    ));
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("bot-config.toml:6:8: `0 0 25 * * *` is not a cron schedule"),
        "{p:?}"
    );
    assert!(p[0].contains("Hours must be less than"), "{p:?}");
}

#[test]
fn an_announcement_id_used_twice_is_refused() {
    let one = "[[announcements]]\nid = \"m\"\ncron = \"0 0 9 * * *\"\ntext = \"x\"\n";
    let p = problems(&format!("{ONE_GROUP}{one}{one}"));
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].contains("announcement id `m` is used twice"), "{p:?}");
}

#[test]
fn a_numeric_weekday_is_a_warning_that_names_the_days_it_means() {
    let c = parse(
        &format!(
            "{ONE_GROUP}[[announcements]]\nid = \"m\"\ncron = \"0 0 9 * * 1-5\"\ntext = \"x\"\n"
        ),
        &Env::default(),
    )
    .unwrap();
    let w: Vec<String> = c.warnings.iter().map(|w| w.to_string()).collect();
    assert!(w.iter().any(|w| w.contains("means `Sun-Thu`")), "{w:?}");
}

#[test]
fn a_flash_sale_in_the_past_is_a_warning_and_an_unmanaged_group_an_error() {
    let sale = "[[flash_sales]]\nid = \"s\"\ntitle = \"t\"\nstarts_at = \"2020-01-01 20:00\"\nduration = \"30m\"\n";
    let c = parse(&format!("{ONE_GROUP}{sale}"), &Env::default()).unwrap();
    assert!(c
        .warnings
        .iter()
        .any(|w| w.to_string().contains("in the past")));
    let p = problems(&format!("{ONE_GROUP}{sale}groups = [2]\n"));
    assert!(p[0].contains("group 2 is not a managed group"), "{p:?}");
}

#[test]
fn check_shows_the_next_three_fires_in_the_configured_zone() {
    let c = parse(
        &format!("{ONE_GROUP}[[announcements]]\nid = \"m\"\ncron = \"0 0 9 * * Mon-Fri\"\ntext = \"x\"\n"),
        &Env::default(),
    )
    .unwrap();
    // Friday 2026-11-27 10:00 in Shanghai: next Monday, Tuesday, Wednesday.
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-27T02:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert_eq!(
        c.schedule_preview(now),
        vec!["announcement m: next 2026-11-30 09:00:00, 2026-12-01 09:00:00, 2026-12-02 09:00:00 (Asia/Shanghai)"]
    );
}

const REACTIVATION: &str = r#"
[coupons.comeback]
file = "comeback.txt"
title = "限时返场券"

[reactivation]
enabled = true
silent_after = "7d"
scan = "0 0 10 * * *"
min_gap = "3d"
max_nudges = 3
per_message = 5
success_within = "2d"
holdout = 0.2
variants = [
  { id = "a", text = "{mentions} 好久不见～今晚8点有秒杀，回来看看吧" },
  { id = "b", text = "{mentions} 送你一张限时返场券：{coupon}，48小时内有效", coupon = "comeback" },
]
exempt = []
zombie_after = "30d"
zombie_action = "report"
zombie_max_per_run = 20
"#;

fn with_comeback_pool(text: &str) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("comeback.txt"), "BACK-1\nBACK-2\n").unwrap();
    Config::parse(&dir.path().join("bot-config.toml"), text, &Env::default())
}

#[test]
fn reactivation_is_off_without_its_section_and_reads_the_issue_example() {
    assert!(
        !parse(MINIMAL, &Env::default())
            .unwrap()
            .reactivation
            .enabled
    );
    let c = with_comeback_pool(&format!("{ONE_GROUP}{REACTIVATION}")).unwrap();
    let r = &c.reactivation;
    assert!(r.enabled);
    assert_eq!(r.silent_after, Duration::from_secs(7 * 86400));
    assert_eq!((r.max_nudges, r.per_message, r.holdout), (3, 5, 0.2));
    assert_eq!(r.variants.len(), 2);
    assert_eq!(r.variants[1].coupon.as_deref(), Some("comeback"));
    assert_eq!(r.zombie_action, ZombieAction::Report);
}

#[test]
fn reactivation_refuses_a_holdout_of_one_and_no_variants() {
    let text = format!(
        "{ONE_GROUP}{}",
        REACTIVATION.replace("holdout = 0.2", "holdout = 1.0")
    );
    let p = with_comeback_pool(&text).unwrap_err().problems();
    assert!(p.iter().any(|p| p.contains("holdout is a share")), "{p:?}");
    let p = problems(&format!("{ONE_GROUP}[reactivation]\nenabled = true\n"));
    assert!(p.iter().any(|p| p.contains("has no variants")), "{p:?}");
}

fn with_words(categories: &str) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let words = dir.path().join("words.txt");
    std::fs::write(&words, "[ad]\n加微\n").unwrap();
    let text = format!(
        "{MINIMAL}[filter]\nwords_file = {:?}\n{categories}",
        words.display().to_string()
    );
    parse(&text, &Env::default())
}

#[test]
fn a_category_sets_its_pinyin_forms_and_homophones_without_repeating_its_actions() {
    let c =
        with_words("[filter.categories.ad]\npinyin = \"initials\"\nhomophones = true\n").unwrap();
    let filter = c.filter.expect("the filter section");
    assert_eq!(
        filter.filter.folds().pinyin("ad"),
        crate::filter::PinyinMode::Initials
    );
    assert_eq!(
        filter.filter.folds().pinyin("abuse"),
        crate::filter::PinyinMode::Full
    );
    assert!(filter.filter.folds().homophones.contains("ad"));
    assert_eq!(
        filter.category("ad").actions,
        FilterCategory::default().actions
    );
}

#[test]
fn an_unknown_pinyin_mode_is_refused_at_its_value() {
    let p = with_words("[filter.categories.ad]\npinyin = \"sometimes\"\n")
        .unwrap_err()
        .problems();
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with(
            "bot-config.toml:8:10: pinyin is `full`, `initials` or `off`, not `sometimes`"
        ),
        "{p:?}"
    );
}

#[test]
fn a_time_limit_of_zero_is_refused_at_its_value() {
    let text = MINIMAL.replace(
        "listen = \"127.0.0.1:8080\"\n",
        "listen = \"127.0.0.1:8080\"\nheader_timeout = \"0s\"\n",
    );
    let p = problems(&text);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("bot-config.toml:5:18: a time limit of zero would refuse everything"),
        "{p:?}"
    );
}

#[test]
fn durations_in_chinese_are_read_like_the_commands_read_them() {
    let c = parse(
        "[gateway]\n[outbox]\ngroup_interval = \"15分钟\"\nretry_max = \"1小时30分钟\"\n",
        &Env::default(),
    )
    .unwrap();
    assert_eq!(c.outbox.group_interval, Duration::from_secs(900));
    assert_eq!(c.outbox.retry_max, Duration::from_secs(5400));
}

#[test]
fn a_bad_duration_carries_a_chinese_hint_with_the_forms_that_work() {
    let p = problems("[gateway]\n[outbox]\ngroup_interval = \"15 minuts\"\n");
    assert!(
        p[0].starts_with("bot-config.toml:3:18: `15 minuts` is not a duration"),
        "{p:?}"
    );
    assert!(
        p[0].contains("提示：时长可写成 30秒、15分钟、2小时、1天"),
        "{p:?}"
    );
}

#[test]
fn full_width_quotes_point_at_the_quote_with_a_chinese_hint_and_the_reason() {
    let p = problems("[gateway]\n[[groups]]\nid = 1\nname = “宝妈群”\n");
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("bot-config.toml:4:8: "),
        "the position of the quote: {p:?}"
    );
    assert!(
        p[0].ends_with("提示：引号是全角的（“”），请改成半角英文引号 \""),
        "{p:?}"
    );
    assert!(
        p[0].len() > "bot-config.toml:4:8: ".len() + super::hint::QUOTES.len() + 4,
        "the parser's own reason stays: {p:?}"
    );
}

#[test]
fn a_missing_variable_says_in_chinese_how_to_set_it() {
    let text = format!("{MINIMAL}secret = \"${{QUNBOT_TEST_UNSET}}\"\n");
    let p = problems(&text);
    assert!(
        p[0].contains(":5:10: environment variable QUNBOT_TEST_UNSET is not set"),
        "{p:?}"
    );
    assert!(p[0].contains("export QUNBOT_TEST_UNSET=..."), "{p:?}");
    assert!(p[0].contains("EnvironmentFile"), "{p:?}");
}

#[test]
fn a_missing_variable_read_by_check_is_a_warning_with_the_same_hint() {
    let text = format!("{MINIMAL}secret = \"${{QUNBOT_TEST_UNSET}}\"\n");
    let c = Config::parse_as(
        Path::new("bot-config.toml"),
        &text,
        &Env::default(),
        Secrets::Optional,
    )
    .unwrap();
    let w = c.warnings[0].to_string();
    assert!(
        w.starts_with(
            "bot-config.toml:5:10: warning: environment variable QUNBOT_TEST_UNSET is not set"
        ),
        "{w}"
    );
    assert!(w.contains("export QUNBOT_TEST_UNSET=..."), "{w}");
}

#[test]
fn red_packets_are_paid_by_the_shop_unless_the_sender_is_asked_to_pay() {
    let c = parse(MINIMAL, &Env::default()).unwrap();
    assert_eq!(c.red_packets.paid_by, PaidBy::Shop);
    let c = parse(
        &format!("{MINIMAL}[red_packets]\npaid_by = \"sender\"\n"),
        &Env::default(),
    )
    .unwrap();
    assert_eq!(c.red_packets.paid_by, PaidBy::Sender);
    let p = problems(&format!("{MINIMAL}[red_packets]\npaid_by = \"admin\"\n"));
    assert!(
        p[0].starts_with("bot-config.toml:6:11: paid_by = \"admin\""),
        "{p:?}"
    );
}
