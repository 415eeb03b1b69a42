//! Folding, skipping and boundaries, word by word.

use super::*;

fn norm(s: &str) -> String {
    normalize_word(s, Normalization::default())
}

#[test]
fn full_width_circled_and_math_styled_fold_to_plain_lower_case() {
    assert_eq!(norm("ｗｅｉｘｉｎ"), "weixin");
    assert_eq!(norm("①②"), "12");
    assert_eq!(norm("𝐀𝐁"), "ab");
    assert_eq!(norm("ＳＢ"), "sb");
}

#[test]
fn traditional_folds_to_simplified() {
    assert_eq!(norm("傻逼"), norm("傻逼"));
    assert_eq!(norm("賭博"), "赌博");
    assert_eq!(norm("發財"), "发财");
}

#[test]
fn spaces_symbols_emoji_and_zero_width_characters_are_skipped() {
    assert_eq!(norm("傻@￥逼"), "傻逼");
    assert_eq!(norm("加 群"), "加群");
    assert_eq!(norm("加\u{200b}群😀"), "加群");
    assert_eq!(norm("w.e.i-x_i~n"), "weixin");
}

#[test]
fn newlines_and_clause_marks_are_hard_boundaries() {
    assert_eq!(norm("加\n群"), "加\n群");
    assert_eq!(norm("加，群"), "加\n群");
    assert_eq!(norm("加？群"), "加\n群");
}

#[test]
fn each_kept_character_remembers_where_it_came_from() {
    let mut v = View::default();
    v.build("a.Ｂ㎏", Normalization::default());
    assert_eq!(v.text(), "abkg");
    assert_eq!(v.origin, [0, 2, 3, 3]);
    assert_eq!(v.gap_before, [false, true, false, false]);
}

#[test]
fn with_everything_off_the_text_is_kept_as_is() {
    assert_eq!(normalize_word("Ａ b", Normalization::OFF), "Ａ b");
}
