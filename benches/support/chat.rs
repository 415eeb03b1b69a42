//! Generated chat for the filter benchmarks: everyday ideographs, fillers
//! (emoji, a link, prices), and dictionary words as written and disguised.

use rand::rngs::StdRng;
use rand::Rng;

/// The real 65k-word dictionary (Apache-2.0) the filter benchmarks measure.
pub const SHARED_DICTIONARY: &str = "../shared/bench/sensitive-dict-65k.txt";

/// The shared dictionary's words, one a line; None when it is not there.
pub fn shared_dictionary() -> Option<Vec<String>> {
    let text = std::fs::read_to_string(SHARED_DICTIONARY).ok()?;
    Some(
        text.lines()
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect(),
    )
}

/// `words` as a word list, all in one `[bench]` category.
pub fn word_list(words: &[String]) -> String {
    let mut text = String::from("[bench]\n");
    for w in words {
        text.push_str(w);
        text.push('\n');
    }
    text
}

/// Common ideographs for chat-like text and generated words.
pub fn ideograph(rng: &mut StdRng) -> char {
    // The first ~3500 code points of the unified block are dense with everyday characters.
    char::from_u32(0x4E00 + rng.random_range(0..3500)).unwrap_or('的')
}

/// Disguises a dictionary word the way members do.
pub fn evade(rng: &mut StdRng, word: &str) -> String {
    let mut out = String::new();
    for (i, c) in word.chars().enumerate() {
        if i > 0 {
            match rng.random_range(0..4) {
                0 => out.push(' '),
                1 => out.push('@'),
                2 => out.push('￥'),
                _ => out.push('\u{200b}'),
            }
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

pub fn messages(rng: &mut StdRng, dictionary: &[String], bytes: usize) -> Vec<String> {
    let fillers = [
        "哈哈",
        "好的",
        "谢谢",
        "OK",
        "👍",
        "😂",
        "https://shop.example.com/item",
        "明天见",
        "多少钱？",
        "包邮吗",
        "123",
        "！",
    ];
    let mut out = Vec::new();
    let mut total = 0;
    while total < bytes {
        let len = rng.random_range(4..60);
        let mut m = String::new();
        while m.chars().count() < len {
            match rng.random_range(0..100) {
                0..=69 => m.push(ideograph(rng)),
                70..=84 => m.push_str(fillers[rng.random_range(0..fillers.len())]),
                85..=92 => m.push(' '),
                93..=96 => m.push_str(&dictionary[rng.random_range(0..dictionary.len())]),
                _ => {
                    let word = &dictionary[rng.random_range(0..dictionary.len())];
                    m.push_str(&evade(rng, word));
                }
            }
        }
        total += m.len();
        out.push(m);
    }
    out
}
