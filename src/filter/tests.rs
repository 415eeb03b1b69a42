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
                end: 6,
                via: Via::Normalized,
            },
            Hit {
                word: "加群",
                category: "ad",
                start: 7,
                end: 10,
                via: Via::Normalized,
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

/// Whether `cut` is `word` with at least one character written as one
/// of its readings, by trying every way.
fn spelled_in_pinyin(word: &str, cut: &str) -> bool {
    fn go(word: &[char], cut: &[char], latin: bool) -> bool {
        let Some((c, rest)) = word.split_first() else {
            return cut.is_empty() && latin;
        };
        (cut.first() == Some(c) && go(rest, &cut[1..], latin))
            || pinyin::readings(*c).any(|r| {
                let r: Vec<char> = r.chars().collect();
                cut.starts_with(&r) && go(rest, &cut[r.len()..], true)
            })
    }
    let word: Vec<char> = word.chars().collect();
    let cut: Vec<char> = cut.chars().collect();
    go(&word, &cut, false)
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
                let found = if hit.via == Via::Pinyin {
                    spelled_in_pinyin(&normalized_word, &normalized_cut)
                } else {
                    normalized_cut.contains(&normalized_word) || collapse(&normalized_cut).contains(&collapse(&normalized_word))
                };
                prop_assert!(found, "{:?} cut {:?} → {:?} lacks {:?}", text, cut, normalized_cut, normalized_word);
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
fn of_words_collapsing_alike_to_equally_long_spans_the_leftmost_wins_whatever_the_order() {
    for list in ["[a]\n嘻嘻哈\n[b]\n嘻哈哈\n", "[b]\n嘻哈哈\n[a]\n嘻嘻哈\n"] {
        let f = filter(list);
        let hits = f.scan("嘻嘻哈哈");
        assert_eq!(
            hits.iter()
                .map(|h| (h.word, h.start, h.end))
                .collect::<Vec<_>>(),
            [("嘻嘻哈", 0, 3)],
            "{list:?}"
        );
    }
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

/// The filter against a brute-force oracle of the matching policy.
mod oracle;

fn vias(f: &Filter, text: &str) -> Vec<(String, &'static str)> {
    f.scan(text)
        .into_iter()
        .map(|h| (h.word.to_string(), h.via.as_str()))
        .collect()
}

#[test]
fn each_hit_says_which_fold_found_it() {
    let f = filter("[ad]\n加群\nweixin\n[abuse]\n傻逼\n");
    assert_eq!(vias(&f, "加群"), [("加群".to_string(), "exact")]);
    assert_eq!(vias(&f, "加 群"), [("加群".to_string(), "normalized")]);
    assert_eq!(
        vias(&f, "ＷＥＩＸＩＮ"),
        [("weixin".to_string(), "normalized")]
    );
    assert_eq!(vias(&f, "傻傻傻逼"), [("傻逼".to_string(), "exact")]);
}

#[test]
fn digits_of_every_style_fold_to_ascii_digits() {
    let f = filter("[ad]\nqq12345\n");
    for text in [
        "qq12345",
        "qq①②③④⑤",
        "qq❶❷❸❹❺",
        "qq➀➁➂➃➄",
        "qq➊➋➌➍➎",
        "qq⓵⓶⓷⓸⓹",
        "qq١٢٣٤٥",      // Arabic-Indic
        "qq१२३४५",      // Devanagari
        "qq１２３４５", // full-width
        "qq𝟏𝟐𝟑𝟒𝟓",      // mathematical bold
    ] {
        assert_eq!(words(&f, text), ["qq12345"], "{text}");
    }
    assert_eq!(vias(&f, "qq❶❷❸❹❺")[0].1, "digits");
    assert_eq!(normalize::digit_value('❿'), Some(10));
    assert_eq!(normalize::digit_value('⓿'), Some(0));
    assert_eq!(normalize::digit_value('٩'), Some(9));
    assert_eq!(normalize::digit_value('a'), None);
}

#[test]
fn chinese_numerals_count_as_digits_only_inside_a_word_listed_with_digits() {
    let f = filter("[ad]\nqq12345\n加v888\n[abuse]\n一起\n[spam]\n10分\n");
    assert_eq!(
        vias(&f, "加qq一二三四五"),
        [("qq12345".to_string(), "numerals")]
    );
    assert_eq!(words(&f, "qq壹贰叁肆伍"), ["qq12345"]);
    assert_eq!(words(&f, "快加V捌捌捌"), ["加v888"]);
    // Words listed with characters keep their characters, a numeral is a
    // digit only for a word listed with digits, and only in a number written
    // out (two numerals or more): 十分 stays "very".
    assert_eq!(words(&f, "我们一起去"), ["一起"]);
    assert!(words(&f, "这个十分好").is_empty());
    assert_eq!(words(&f, "一零分"), ["10分"]);
    assert!(words(&f, "一二三四五").is_empty());
    // The plain view's hit stands; the numerals view adds no second one.
    assert_eq!(words(&f, "qq12345"), ["qq12345"]);
}

#[test]
fn a_number_needs_two_numerals_side_by_side_separators_skipped() {
    let f = filter("[ad]\nqq123\n1对1\n");
    assert_eq!(words(&f, "qq 一 二 三"), ["qq123"]);
    assert!(words(&f, "一对一辅导").is_empty(), "one-on-one is prose");
}

#[test]
fn variant_characters_fold_like_traditional_ones() {
    let f = filter("[ad]\n加群\n单价\n卖号\n[fraud]\n伪造\n");
    // Variant forms beyond traditional → simplified (here Japanese shinjitai).
    assert_eq!(vias(&f, "低价売号"), [("卖号".to_string(), "variant")]);
    assert_eq!(vias(&f, "単価"), [("单价".to_string(), "variant")]);
    assert_eq!(vias(&f, "加羣"), [("加群".to_string(), "normalized")]);
    // Traditional characters, and variants OpenCC's own traditional table
    // knows, still say normalized.
    assert_eq!(vias(&f, "偽造"), [("伪造".to_string(), "normalized")]);
    assert_eq!(vias(&f, "僞造"), [("伪造".to_string(), "normalized")]);
}

#[test]
fn a_simplified_character_is_never_remapped_as_another_regions_variant() {
    // Taiwan writes 幺 as 么; in simplified text 么 is 什么's, and stays so.
    assert_eq!(normalize::simplify('么'), '么');
    assert_eq!(normalize::simplify('呱'), '呱');
    let f = filter("[spam]\n幺幺\n");
    assert!(words(&f, "什么什么").is_empty());
}

#[test]
fn look_alike_letters_of_other_scripts_fold_inside_latin_words() {
    let f = filter("[ad]\nweixin\nsex\n加v\n");
    // Cyrillic е and і inside a Latin word; Greek ν for v.
    assert_eq!(vias(&f, "加wеіxin"), [("weixin".to_string(), "lookalike")]);
    assert_eq!(words(&f, "WЕIXIN"), ["weixin"]);
    // A token written wholly in look-alikes (Cyrillic ѕ, е, х) folds too.
    assert_eq!(words(&f, "看ѕех片"), ["sex"]);
    assert_eq!(normalize::lookalike('ο'), Some('o'));
    assert_eq!(
        normalize::lookalike('Ι'),
        Some('I'),
        "Greek capital iota is an I, not an l"
    );
}

#[test]
fn words_of_other_scripts_and_cjk_keep_their_letters() {
    let f = filter("[ad]\nweixin\nbop\ncop\n");
    // Russian and Greek words are not Latin tokens: a word with letters that
    // look like nothing Latin keeps every letter (вор is not bop, сорт not copt).
    assert!(words(&f, "вор").is_empty());
    assert!(words(&f, "копия сорт").is_empty());
    assert!(words(&f, "Ελλάδα").is_empty());
    assert_eq!(normalize::lookalike('微'), None);
    assert_eq!(
        normalize::normalize_word("сорт", Normalization::default()),
        "сорт"
    );
}

fn pinyin_filter(list: &str, modes: &[(&str, PinyinMode)]) -> Filter {
    let words = WordList::parse(list, Normalization::default());
    let folds = Folds {
        pinyin: modes.iter().map(|(c, m)| (c.to_string(), *m)).collect(),
        ..Folds::default()
    };
    Filter::with_folds(&words, Normalization::default(), folds)
}

#[test]
fn a_listed_word_written_in_pinyin_or_half_in_pinyin_hits() {
    let f = filter("[ad]\n加微\n微信号\n");
    assert_eq!(vias(&f, "想要的jiawei"), [("加微".to_string(), "pinyin")]);
    assert_eq!(words(&f, "JiaWei 详聊"), ["加微"]);
    assert_eq!(words(&f, "JIAWEI"), ["加微"]);
    assert_eq!(words(&f, "jia wei"), ["加微"]);
    assert_eq!(words(&f, "j i a w e i"), ["加微"], "letter by letter");
    assert_eq!(
        words(&f, "jia wei ok"),
        ["加微"],
        "a word after it is its own token"
    );
    assert_eq!(words(&f, "jia微"), ["加微"]);
    assert_eq!(words(&f, "加wei"), ["加微"]);
    assert_eq!(words(&f, "我的wei信hao是"), ["微信号"]);
    // Reported at the characters of the original text.
    let hit = f.scan("快jia微")[0];
    assert_eq!((hit.start, hit.end), (1, 5));
}

#[test]
fn every_reading_of_a_heteronym_counts() {
    let f = filter("[ad]\n长城\n");
    assert_eq!(words(&f, "changcheng"), ["长城"]);
    assert_eq!(words(&f, "zhangcheng"), ["长城"]);
    assert_eq!(words(&f, "长cheng"), ["长城"]);
}

#[test]
fn pinyin_hits_only_as_whole_latin_tokens_so_english_words_and_names_pass() {
    let f = filter("[ad]\n加微\n八那\n你可\n伪大\n[abuse]\n傻逼\n");
    for text in [
        "jiaweixin",        // a longer token
        "dajiawei",         // a longer token
        "Zhangjiawei123",   // a name inside a longer token
        "I ate a banana",   // ba+na+na holds bana
        "Nikestore",        // ni+ke inside a brand's longer name
        "jiawei8",          // a digit joins the token
        "@Jiawei 快递到了", // a name, written as names are
        "Jia Wei说好的",    // a name in two pieces
        "zhang wei 大家好", // pinyin and characters apart are not one word
    ] {
        assert!(words(&f, text).is_empty(), "{text} should pass");
    }
}

#[test]
fn a_homophone_written_as_a_character_is_not_a_pinyin_hit() {
    let f = filter("[ad]\n加微\n");
    // 威 sounds like 微 but is not it: only the word's own characters or
    // pinyin letters make a pinyin match.
    assert!(words(&f, "给技能加威力").is_empty());
    assert!(words(&f, "jia威").is_empty());
    assert!(words(&f, "佳wei").is_empty());
}

#[test]
fn initials_hit_only_where_the_category_asks_and_pinyin_can_be_switched_off() {
    let list = "[ad]\n加微\n[abuse]\n傻逼\n[brand]\n苹果\n";
    let f = pinyin_filter(
        list,
        &[("ad", PinyinMode::Initials), ("brand", PinyinMode::Off)],
    );
    assert_eq!(vias(&f, "速度jw"), [("加微".to_string(), "pinyin")]);
    assert!(words(&f, "sb").is_empty(), "abuse has full pinyin only");
    assert_eq!(words(&f, "shabi"), ["傻逼"]);
    assert!(words(&f, "pingguo").is_empty(), "brand has pinyin off");
    assert_eq!(words(&f, "苹果"), ["苹果"]);
    // One-character words get no pinyin form.
    let f = filter("[abuse]\n操\n");
    assert!(words(&f, "cao").is_empty());
}

#[test]
fn an_allow_phrase_covers_a_pinyin_hit_and_a_word_found_as_written_stands() {
    let f = filter("[ad]\n加微\n[allow]\njiawei\n");
    assert!(words(&f, "my name is Jiawei").is_empty());
    assert_eq!(words(&f, "jia微"), ["加微"]);
    let f = filter("[ad]\n加微\nweixin\n");
    assert_eq!(vias(&f, "weixin"), [("weixin".to_string(), "exact")]);
}

fn homophone_filter(list: &str, categories: &[&str]) -> Filter {
    let words = WordList::parse(list, Normalization::default());
    let folds = Folds {
        homophones: categories.iter().map(|c| c.to_string()).collect(),
        ..Folds::default()
    };
    Filter::with_folds(&words, Normalization::default(), folds)
}

#[test]
fn a_homophone_swapped_into_a_long_enough_word_hits_and_names_the_listed_word() {
    let f = homophone_filter("[ad]\n加微信\n办假证\n", &["ad"]);
    // 威 sounds exactly like 微 (wēi); 症 like 证 (zhèng).
    assert_eq!(vias(&f, "快加威信"), [("加微信".to_string(), "homophone")]);
    assert_eq!(
        vias(&f, "专业办假症"),
        [("办假证".to_string(), "homophone")]
    );
    assert_eq!(vias(&f, "加微信"), [("加微信".to_string(), "exact")]);
}

#[test]
fn everyday_phrases_a_homophone_away_from_a_listed_word_pass() {
    let f = homophone_filter("[ad]\n加微\n加微信\n[allow]\n加威信号\n", &["ad"]);
    // Two-character words never hit by sound.
    assert!(words(&f, "给技能加威力").is_empty());
    // A different tone is a different sound: 为 is wèi, 微 wēi.
    assert!(words(&f, "加为信").is_empty());
    // At most one character in three swapped: 佳 and 威 are two.
    assert!(words(&f, "佳威信").is_empty());
    // An allow phrase covers it.
    assert!(words(&f, "加威信号").is_empty());
}

#[test]
fn homophones_are_only_for_the_categories_that_ask() {
    let f = homophone_filter("[ad]\n加微信\n[fraud]\n办假证\n", &["fraud"]);
    assert!(words(&f, "快加威信").is_empty());
    assert_eq!(words(&f, "办假症"), ["办假证"]);
    assert_eq!(
        normalize::homophone_key('微'),
        normalize::homophone_key('威')
    );
    assert_ne!(
        normalize::homophone_key('微'),
        normalize::homophone_key('为')
    );
}

mod arbitrary_text {
    use proptest::prelude::*;

    use super::*;

    const LIST: &str = "[ad]\n加微\n加微信\n微信号\nweixin\n长城\nqq12345\n卖号\n[fraud]\n办假证\n[allow]\n参加群众\n";

    proptest! {
        /// Any text at all, with every fold on (initials and homophones too):
        /// no panic, and every hit lies inside the text, in order.
        #[test]
        fn any_text_scans_without_panic_and_hits_stay_inside_it(text in "\\PC{0,60}|[a-zA-Z 加微信号长城卖売办假证症威佳jiawexnq0-9一二三 .@]{0,40}") {
            let words = WordList::parse(LIST, Normalization::default());
            let folds = Folds {
                pinyin: [("ad".to_string(), PinyinMode::Initials)].into(),
                homophones: ["ad".to_string(), "fraud".to_string()].into(),
            };
            let f = Filter::with_folds(&words, Normalization::default(), folds);
            let chars = text.chars().count();
            let hits = f.scan(&text);
            for h in &hits {
                prop_assert!(h.start < h.end && h.end <= chars, "{h:?} in {text:?}");
            }
            prop_assert!(hits.windows(2).all(|w| w[0].start <= w[1].start), "{hits:?}");
        }
    }
}
