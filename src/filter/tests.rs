use super::*;

fn filter(list: &str) -> Filter {
    let words = WordList::parse(list, Normalization::default());
    assert!(words.errors().next().is_none(), "{:?}", words.remarks);
    Filter::new(&words, Normalization::default())
}

fn words(f: &Filter, text: &str) -> Vec<String> {
    f.scan(text)
        .into_iter()
        .map(|h| h.word.to_string())
        .collect()
}

const LIST: &str = "[abuse]\n傻逼\nsb\n[ad]\n加群\nweixin\n加v\n[politics]\n口交\n[joke]\n嘻嘻哈哈\n[allow]\n出口交易\n路口交通\n参加群众\n";

#[test]
fn evasions_with_symbols_spaces_width_and_case_are_caught() {
    let f = filter(LIST);
    for text in [
        "傻@￥逼",
        "傻 逼",
        "傻\u{200b}逼",
        "傻😀逼",
        "加 群",
        "加.群",
        "ｗｅｉｘｉｎ",
        "w e i x i n",
        "w.e.i.x.i.n",
        "WeiXin",
        "加Ｖ",
    ] {
        assert_eq!(words(&f, text).len(), 1, "{text} should hit");
    }
}

#[test]
fn traditional_characters_hit_simplified_words() {
    let f = filter("[fraud]\n赌博\n");
    assert_eq!(words(&f, "來賭博吧"), ["赌博"]);
}

#[test]
fn repeated_characters_hit_when_the_run_is_at_least_as_long() {
    let f = filter(LIST);
    assert_eq!(words(&f, "傻傻傻逼"), ["傻逼"]);
    assert_eq!(words(&f, "嘻嘻嘻哈哈哈哈"), ["嘻嘻哈哈"]);
    assert!(words(&f, "嘻哈").is_empty());
    assert!(words(&f, "嘻嘻哈").is_empty());
    assert_eq!(words(&f, "嘻嘻哈哈"), ["嘻嘻哈哈"]);
}

#[test]
fn latin_words_hit_only_as_whole_tokens() {
    let f = filter(LIST);
    assert_eq!(words(&f, "你真是个sb吧"), ["sb"]);
    assert_eq!(words(&f, "ＳＢ一个"), ["sb"]);
    assert_eq!(words(&f, "you are sb"), ["sb"]);
    assert!(words(&f, "usb").is_empty());
    assert!(words(&f, "插上USB接口").is_empty());
    assert!(words(&f, "Disburse the funds").is_empty());
    assert!(words(&f, "weixinpay").is_empty());
}

#[test]
fn harmless_superstrings_covered_by_an_allow_phrase_pass() {
    let f = filter(LIST);
    assert!(words(&f, "今年出口交易额增长").is_empty());
    assert!(words(&f, "前面路口交通拥堵").is_empty());
    assert_eq!(
        words(&f, "参加群众活动后记得加群"),
        ["加群"],
        "the other occurrence still hits"
    );
}

#[test]
fn hard_boundaries_stop_a_match() {
    let f = filter(LIST);
    assert!(words(&f, "你加\n群里").is_empty());
    assert!(words(&f, "我要加，群里的人").is_empty());
}

#[test]
fn hits_report_the_dictionary_entry_category_and_original_offsets() {
    let f = filter(LIST);
    let hits = f.scan("哈哈，傻@逼和加 群");
    assert_eq!(
        hits,
        vec![
            Hit {
                word: "傻逼",
                category: "abuse",
                start: 3,
                end: 6
            },
            Hit {
                word: "加群",
                category: "ad",
                start: 7,
                end: 10
            },
        ]
    );
}

#[test]
fn leftmost_longest_prefers_the_longer_word_and_reports_each_occurrence() {
    let f = filter("[ad]\n加群\n加群领红包\n");
    assert_eq!(words(&f, "加群领红包，再加群"), ["加群领红包", "加群"]);
}

#[test]
fn a_longer_candidate_that_fails_its_check_does_not_hide_a_shorter_word() {
    let f = filter("[x]\n嘻嘻哈哈\n哈哈\n");
    assert_eq!(words(&f, "嘻哈哈"), ["哈哈"]);
}

#[test]
fn with_every_normalisation_off_only_exact_text_hits() {
    let words_list = WordList::parse(LIST, Normalization::OFF);
    let f = Filter::new(&words_list, Normalization::OFF);
    assert_eq!(f.scan("傻逼").len(), 1);
    assert!(f.scan("傻 逼").is_empty());
    assert!(
        f.scan("傻傻逼").len() == 1,
        "the exact word inside still hits"
    );
    assert!(f.scan("ＳＢ").is_empty());
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    const PIECES: &[&str] = &[
        "傻",
        "逼",
        "加",
        "群",
        "s",
        "b",
        "u",
        "嘻",
        "哈",
        " ",
        "@",
        "，",
        "\n",
        "出口交易",
        "ｓ",
        "😀",
        "口交",
        "w",
        "e",
        "i",
        "x",
        "n",
        "額",
        "a",
    ];

    proptest! {
        #[test]
        fn every_reported_span_normalises_to_text_containing_its_word(parts in proptest::collection::vec(0..PIECES.len(), 0..40)) {
            let text: String = parts.iter().map(|i| PIECES[*i]).collect();
            let f = filter(LIST);
            let chars: Vec<char> = text.chars().collect();
            for hit in f.scan(&text) {
                prop_assert!(hit.start < hit.end && hit.end <= chars.len());
                let cut: String = chars[hit.start..hit.end].iter().collect();
                let normalized_cut = normalize::normalize_word(&cut, Normalization::default());
                let normalized_word = normalize::normalize_word(hit.word, Normalization::default());
                // Runs in the cut may be longer than in the word; compare collapsed forms too.
                let collapse = |s: &str| { let mut v: Vec<char> = s.chars().collect(); v.dedup(); v.into_iter().collect::<String>() };
                prop_assert!(
                    normalized_cut.contains(&normalized_word) || collapse(&normalized_cut).contains(&collapse(&normalized_word)),
                    "{:?} cut {:?} → {:?} lacks {:?}", text, cut, normalized_cut, normalized_word
                );
                prop_assert!(!f.scan(&cut).is_empty(), "the cut alone hits again: {cut:?}");
            }
        }
    }
}

#[test]
fn a_mixed_word_inside_a_latin_run_still_hits_after_a_refused_latin_candidate() {
    let f = filter("[x]\nab\nb群\nqq号\n");
    assert_eq!(words(&f, "xab群"), ["b群"]);
    assert_eq!(words(&f, "我的xqq号码"), ["qq号"]);
    let off = Filter::new(
        &WordList::parse("[x]\nab\nb群\n", Normalization::OFF),
        Normalization::OFF,
    );
    assert_eq!(off.scan("xab群").len(), 1);
}

#[test]
fn words_that_collapse_alike_each_hit_with_their_own_category() {
    let f = filter("[a]\n嘻哈\n[b]\n嘻嘻哈哈\n[latin]\nqq\n[mixed]\nqq群\n");
    let found = |text: &str| -> Vec<(String, String)> {
        f.scan(text)
            .iter()
            .map(|h| (h.word.to_string(), h.category.to_string()))
            .collect()
    };
    let pair = |w: &str, c: &str| (w.to_string(), c.to_string());
    assert_eq!(found("嘻嘻哈哈哈"), [pair("嘻嘻哈哈", "b")]);
    assert_eq!(found("嘻嘻哈"), [pair("嘻哈", "a")]);
    assert_eq!(found("加qq群"), [pair("qq群", "mixed")]);
    assert_eq!(found("我的qq是"), [pair("qq", "latin")]);
}
