//! Readings, syllable splitting and anchor spellings.

use super::matcher::combinations;
use super::*;

#[test]
fn a_character_has_every_reading_main_first_as_typed() {
    assert_eq!(readings('加').collect::<Vec<_>>(), ["jia"]);
    let chang: Vec<_> = readings('长').collect();
    assert!(
        chang.contains(&"zhang") && chang.contains(&"chang"),
        "{chang:?}"
    );
    let lv: Vec<_> = readings('绿').collect();
    assert_eq!(lv[0], "lv");
    assert!(lv.contains(&"lu"));
    assert_eq!(readings('a').count(), 0);
}

#[test]
fn every_spelling_splits_as_itself() {
    let s = syllables();
    for name in &s.names {
        assert!(is_syllables(name.as_bytes()), "{name}");
    }
}

#[test]
fn latin_runs_split_into_syllables_or_not() {
    assert!(is_syllables(b"jiawei"));
    assert!(is_syllables(b"xian"));
    assert!(!is_syllables(b"https"));
    assert!(!is_syllables(b"ok"));
    assert!(!is_syllables(b"shop"));
}

#[test]
fn combinations_stop_at_the_cap_main_readings_first() {
    let per_char = vec![vec!["a", "b"], vec!["c", "d"], vec!["e", "f"]];
    let all = combinations(&per_char, 64);
    assert_eq!(all.len(), 8);
    assert_eq!(all[0], ["a", "c", "e"]);
    assert_eq!(combinations(&per_char, 3).len(), 3);
}
