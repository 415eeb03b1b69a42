//! False alarms: a clean corpus of ordinary shop-group chat (generated here,
//! 120,000 distinct messages from templates and everyday vocabulary: prices,
//! times, names in pinyin, English words, emoji, everyday phrases one sound
//! away from common listed words) scanned with the real 65k list and every
//! fold on. Reports, per fold, the share of messages it flagged; a fold's
//! rate is its own new alarms, the base rate is what the folds every filter
//! already had (exact and normalised) flag.
//!
//! `cargo bench --bench false_alarms` (needs ../shared/bench/sensitive-dict-65k.txt).
//! `ALARMS_SHOW=n` prints n flagged messages per fold.

use std::collections::BTreeMap;

use qunbot::filter::{Filter, Folds, Normalization, PinyinMode, Via, WordList};
mod support;
use support::chat::{shared_dictionary, word_list, SHARED_DICTIONARY};
use support::env_usize;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

const SEED: u64 = 20261125;
const MESSAGES: usize = 120_000;

const GREETINGS: &[&str] = &[
    "大家好",
    "早上好",
    "晚上好",
    "哈喽",
    "在吗",
    "谢谢群主",
    "收到",
    "好的",
    "嗯嗯",
    "辛苦了",
    "Hello",
    "hi",
    "OK",
    "ok啦",
    "thanks",
    "thx",
    "早",
    "晚安",
];
const PRODUCTS: &[&str] = &[
    "苹果",
    "橙子",
    "车厘子",
    "草莓",
    "牛奶",
    "面包",
    "大米",
    "鸡蛋",
    "纸巾",
    "洗衣液",
    "面膜",
    "口红",
    "T恤",
    "卫衣",
    "运动鞋",
    "充电宝",
    "iPhone 15",
    "AirPods",
    "Switch",
    "小米手环",
    "保温杯",
    "玩具车",
    "绘本",
    "奶粉",
    "尿不湿",
];
const NAMES: &[&str] = &[
    "张伟",
    "王芳",
    "李娜",
    "刘洋",
    "陈静",
    "杨帆",
    "赵磊",
    "黄丽",
    "周杰",
    "吴敏",
    "Zhang Wei",
    "Wang Fang",
    "Li Na",
    "Liu Yang",
    "Chen Jing",
    "Jiawei",
    "Xiaoming",
    "Tom",
    "Lily",
    "Amy",
    "Kevin",
    "小王",
    "老李",
    "阿花",
    "宝妈",
];
const ENGLISH: &[&str] = &[
    "ok",
    "nice",
    "good job",
    "thank you",
    "see you",
    "bye",
    "lol",
    "yes",
    "no problem",
    "sale",
    "link",
    "app",
    "wifi",
    "vip",
    "china",
    "panda",
    "banana",
    "Nike",
    "Adidas",
    "Apple",
    "Huawei",
    "hello world",
    "happy birthday",
    "cheers",
    "menu",
    "change",
    "long time no see",
    "shopping",
    "coffee",
    "tea",
    "bingo",
    "sorry",
    "wait",
    "same",
    "hang on",
    "bang",
    "men",
    "she",
    "pin",
    "fan",
    "man",
];
const PLACES: &[&str] = &[
    "小区门口",
    "菜鸟驿站",
    "东门",
    "3号楼",
    "超市",
    "地铁站",
    "学校",
    "公园",
    "快递柜",
    "物业",
    "西安",
    "上海",
    "长沙",
    "重庆",
];
const TIMES: &[&str] = &[
    "明天",
    "今天下午",
    "晚上八点",
    "周六",
    "下周一",
    "10点",
    "3点半",
    "中午",
    "一会儿",
    "马上",
];
const EVERYDAY: &[&str] = &[
    "给技能加威力",
    "我们一起去吧",
    "这个十分好用",
    "一对一辅导",
    "加油加油",
    "为什么还没到",
    "微波炉坏了",
    "威力好大",
    "是不是真的",
    "事实上还行",
    "意义不大",
    "衣服很好看",
    "已经发货了",
    "义务劳动",
    "有意思",
    "大家都说好",
    "不用客气",
    "可以的",
    "没问题",
    "我也想要",
    "还有吗",
    "几点开始",
    "多少钱一斤",
    "包邮吗",
    "能便宜点吗",
    "质量怎么样",
    "孩子很喜欢",
    "家里人都爱吃",
    "已付款",
    "等一下",
    "拍下了",
    "到货了吗",
    "好评",
    "下次还来",
    "快递到了",
    "新年快乐",
    "生日快乐",
    "恭喜发财",
    "身体健康",
    "注意安全",
    "天气好热",
    "下雨了记得带伞",
    "周末愉快",
    "今天团购什么",
    "有没有优惠券",
    "积分怎么用",
    "签到了",
    "红包谢谢老板",
    "手气不错",
    "抢到了",
];
const EMOJI: &[&str] = &[
    "😂",
    "👍",
    "🌹",
    "❤️",
    "🙏",
    "😊",
    "🎉",
    "[微笑]",
    "[呲牙]",
    "[强]",
    "~",
    "！",
    "？",
    "。。。",
    "!!",
    "哈哈哈",
    "hhh",
    "233",
];

fn message(rng: &mut StdRng) -> String {
    fn pick(rng: &mut StdRng, list: &[&'static str]) -> &'static str {
        list.choose(rng).copied().unwrap_or("")
    }
    let price = rng.random_range(1..500);
    let count = rng.random_range(1..20);
    let phone_tail = rng.random_range(1000..9999);
    let mut m = match rng.random_range(0..16) {
        0 => format!("{} {}", pick(rng, GREETINGS), pick(rng, EMOJI)),
        1 => format!("{}多少钱？", pick(rng, PRODUCTS)),
        2 => format!("{}{}元一份，要的接龙", pick(rng, PRODUCTS), price),
        3 => format!(
            "{}放{}了，{}来拿",
            pick(rng, PRODUCTS),
            pick(rng, PLACES),
            pick(rng, TIMES)
        ),
        4 => format!("@{} {}", pick(rng, NAMES), pick(rng, EVERYDAY)),
        5 => format!("{} {}", pick(rng, EVERYDAY), pick(rng, EMOJI)),
        6 => format!("{}，{}", pick(rng, ENGLISH), pick(rng, EVERYDAY)),
        7 => format!(
            "接龙：{} {}{}份",
            pick(rng, NAMES),
            pick(rng, PRODUCTS),
            count
        ),
        8 => format!("{}我到{}了", pick(rng, TIMES), pick(rng, PLACES)),
        9 => format!("尾号{}的快递在{}", phone_tail, pick(rng, PLACES)),
        10 => format!(
            "{} {} {}",
            pick(rng, ENGLISH),
            pick(rng, ENGLISH),
            pick(rng, EMOJI)
        ),
        11 => format!("{}说{}", pick(rng, NAMES), pick(rng, EVERYDAY)),
        12 => format!("{}的{}还有吗", pick(rng, TIMES), pick(rng, PRODUCTS)),
        13 => format!(
            "I bought {} {} yesterday, {}",
            count,
            pick(rng, ENGLISH),
            pick(rng, ENGLISH)
        ),
        14 => format!(
            "{}{}{}",
            pick(rng, EVERYDAY),
            pick(rng, EVERYDAY),
            pick(rng, EMOJI)
        ),
        _ => format!(
            "{} {}，{}",
            pick(rng, NAMES),
            pick(rng, GREETINGS),
            pick(rng, EVERYDAY)
        ),
    };
    if rng.random_ratio(1, 5) {
        m.push_str(pick(rng, EMOJI));
    }
    m
}

fn corpus() -> Vec<String> {
    let rng = &mut StdRng::seed_from_u64(SEED);
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(MESSAGES);
    // Distinct messages only, in a bounded number of draws.
    for _ in 0..MESSAGES * 50 {
        if out.len() == MESSAGES {
            break;
        }
        let m = message(rng);
        if seen.insert(m.clone()) {
            out.push(m);
        }
    }
    out
}

/// Where the folds this issue added stand: everything else is the base.
fn fold_of(via: Via) -> &'static str {
    match via {
        Via::Exact | Via::Normalized | Via::Rule => "base (exact, normalized)",
        other => other.as_str(),
    }
}

fn main() {
    let Some(dictionary) = shared_dictionary() else {
        println!("false alarms: {SHARED_DICTIONARY} not found; nothing measured");
        return;
    };
    let list = word_list(&dictionary);
    let words = WordList::parse(&list, Normalization::default());
    let messages = corpus();
    let show = env_usize("ALARMS_SHOW", 0);
    // The filter as it was before pinyin, homophones and look-alikes.
    let before = Normalization {
        lookalikes: false,
        ..Normalization::default()
    };
    let base = Filter::with_folds(
        &WordList::parse(&list, before),
        before,
        Folds {
            pinyin: [("bench".to_string(), PinyinMode::Off)].into(),
            ..Folds::default()
        },
    );
    for (label, folds) in [
        (
            "every fold on (pinyin full, homophones)",
            Folds {
                homophones: ["bench".to_string()].into(),
                ..Folds::default()
            },
        ),
        (
            "pinyin initials too (opt-in)",
            Folds {
                pinyin: [("bench".to_string(), PinyinMode::Initials)].into(),
                homophones: ["bench".to_string()].into(),
            },
        ),
    ] {
        let filter = Filter::with_folds(&words, Normalization::default(), folds);
        let mut flagged: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
        for m in &messages {
            let mut folds: Vec<&str> = filter.scan(m).iter().map(|h| fold_of(h.via)).collect();
            folds.sort_unstable();
            folds.dedup();
            for f in folds {
                flagged.entry(f).or_default().push(m);
            }
        }
        let base_count = messages.iter().filter(|m| !base.scan(m).is_empty()).count();
        println!(
            "false alarms, {label}: {} distinct messages, real 65k list",
            messages.len()
        );
        println!(
            "  without pinyin, homophones and look-alikes: {base_count} messages ({:.2}‰)",
            base_count as f64 * 1e3 / messages.len() as f64
        );
        for (fold, ms) in &flagged {
            println!(
                "  {fold:<28} {:>6} messages  {:>7.3}‰",
                ms.len(),
                ms.len() as f64 * 1e3 / messages.len() as f64
            );
            for m in ms.iter().take(show) {
                let hits: Vec<String> = filter
                    .scan(m)
                    .iter()
                    .map(|h| format!("{}({})", h.word, h.via.as_str()))
                    .collect();
                println!("      {m}  → {}", hits.join(" "));
            }
        }
    }
}
