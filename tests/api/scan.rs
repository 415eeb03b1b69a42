//! Operators try the word list with `qunbot scan` before they trust it.

use std::io::Write;
use std::process::{Command, Stdio};

/// Runs `qunbot scan` with `args` over `input`; returns one JSON value per output line.
fn qunbot_scan(args: &[&str], input: &[u8]) -> Vec<serde_json::Value> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_qunbot"))
        .arg("scan")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        // Scanning reads only the filter: no gateway secret, no variable at all.
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Fed from another thread: the output is read while the input is written.
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn in_a_fresh_checkout_scan_works_without_any_environment_variable() {
    let lines = qunbot_scan(&[], "加群\n".as_bytes());
    assert_eq!(lines[0]["hits"][0]["word"], "加群", "{}", lines[0]);
    assert_eq!(lines[0]["action"], "recall+warn");
}

#[test]
fn scanning_with_the_shipped_config_names_each_hit_and_what_the_daemon_would_do() {
    let mut input = "路口交通很堵\n你真是个ＳＢ吧\n".as_bytes().to_vec();
    input.extend_from_slice(b"\xff\xfe\n");
    input.extend_from_slice("加 群 领红包\n".as_bytes());
    let lines = qunbot_scan(&["--config", "bot-config.toml"], &input);
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["action"], "none", "{}", lines[0]);
    assert_eq!(lines[1]["hits"][0]["category"], "abuse");
    assert_eq!(
        (
            lines[1]["hits"][0]["start"].as_u64(),
            lines[1]["hits"][0]["end"].as_u64()
        ),
        (Some(4), Some(6))
    );
    assert_eq!(lines[1]["action"], "recall+warn+mute");
    assert!(
        lines[2]["error"].as_str().unwrap().contains("UTF-8"),
        "{}",
        lines[2]
    );
    assert_eq!(lines[3]["line"], 4);
    assert_eq!(lines[3]["hits"][0]["word"], "加群");
    assert_eq!(lines[3]["action"], "recall+warn");
}

#[test]
fn a_long_input_comes_out_line_for_line() {
    let input = "普通的一句话\n".repeat(20_000) + "最后加群";
    let lines = qunbot_scan(&["--words", "sensitive-words.txt"], input.as_bytes());
    assert_eq!(lines.len(), 20_001);
    assert!(lines
        .iter()
        .enumerate()
        .all(|(i, l)| l["line"] == i + 1 && l.get("error").is_none()));
    assert!(lines[..20_000].iter().all(|l| l["action"] == "none"));
    assert_eq!(lines[20_000]["action"], "flag");
}

#[test]
fn scan_judges_links_and_phone_numbers_as_the_live_filter_does() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("words.txt"), "[ad]\n加群\n").unwrap();
    let config = |phones: &str| {
        let path = dir.path().join(format!("{phones}.toml"));
        std::fs::write(
            &path,
            format!(
                "[gateway]\n[filter]\nwords_file = \"words.txt\"\nphones = \"{phones}\"\n[filter.links]\nallow = [\"*.myshop.cn\"]\n"
            ),
        )
        .unwrap();
        path.display().to_string()
    };
    let input = "看看 https://t.cn/abc 便宜\n店里 https://m.myshop.cn/p/1 下单\n电话13812345678\n加我微信号 abc_12345\n";
    let lines = qunbot_scan(&["--config", &config("recall")], input.as_bytes());
    let categories: Vec<&str> = lines
        .iter()
        .map(|l| l["hits"][0]["category"].as_str().unwrap_or("none"))
        .collect();
    assert_eq!(categories, ["link", "none", "link", "link"], "{lines:#?}");
    assert_eq!(lines[0]["action"], "recall+warn");
    assert_eq!(lines[2]["hits"][0]["word"], "phone");

    let lines = qunbot_scan(&["--config", &config("allow")], input.as_bytes());
    assert_eq!(
        lines[2]["action"], "none",
        "phones = \"allow\": {}",
        lines[2]
    );
}
