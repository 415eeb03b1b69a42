//! `qunbot scan`: the filter over lines of stdin, one JSON object per line out,
//! for operators trying a word list and for benchmarks. It streams: one line in
//! memory at a time.

use std::io::{BufRead, Write};

use serde_json::json;

use crate::config::FilterConfig;
use crate::features::hygiene::hit_json;
use crate::filter::Filter;

/// What the daemon would do about the categories hit, e.g. `recall+warn`;
/// `none` without hits, `flag` when no config says more.
fn action(categories: &[&str], rules: Option<&FilterConfig>) -> String {
    if categories.is_empty() {
        return "none".into();
    }
    let Some(rules) = rules else {
        return "flag".into();
    };
    let mut actions: Vec<&str> = Vec::new();
    for c in categories {
        let rule = rules.category(c);
        if rule.dry_run {
            continue;
        }
        for a in rule.actions {
            if !actions.contains(&a.as_str()) {
                actions.push(a.as_str());
            }
        }
    }
    if actions.is_empty() {
        "dry_run".into()
    } else {
        actions.join("+")
    }
}

/// Scans every line of `input` and writes one JSON line per input line.
pub fn scan_lines(
    mut input: impl BufRead,
    mut out: impl Write,
    filter: &Filter,
    rules: Option<&FilterConfig>,
) -> std::io::Result<usize> {
    let mut buf = Vec::new();
    let mut line = 0;
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        line += 1;
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        let record = match std::str::from_utf8(&buf) {
            Ok(text) => {
                let hits = filter.scan(text);
                let mut categories: Vec<&str> = Vec::new();
                for h in &hits {
                    if !categories.contains(&h.category) {
                        categories.push(h.category);
                    }
                }
                json!({
                    "line": line,
                    "hits": hits.iter().map(hit_json).collect::<Vec<_>>(),
                    "action": action(&categories, rules),
                })
            }
            Err(e) => json!({"line": line, "error": format!("not valid UTF-8: {e}")}),
        };
        serde_json::to_writer(&mut out, &record)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{Normalization, WordList};

    #[test]
    fn each_line_gets_its_hits_and_bad_utf8_an_error() {
        let list = WordList::parse("[ad]\n加群\n", Normalization::default());
        let filter = Filter::new(&list, Normalization::default());
        let input: &[u8] = b"hello\n\xe5\x8a\xa0 \xe7\xbe\xa4!\r\n\xff\xfe\nlast";
        let mut out = Vec::new();
        assert_eq!(scan_lines(input, &mut out, &filter, None).unwrap(), 4);
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0], json!({"line": 1, "hits": [], "action": "none"}));
        assert_eq!(
            lines[1]["hits"][0],
            json!({"word": "加群", "category": "ad", "start": 0, "end": 3, "via": "normalized"})
        );
        assert_eq!(lines[1]["action"], "flag");
        assert!(lines[2]["error"]
            .as_str()
            .unwrap()
            .starts_with("not valid UTF-8"));
        assert_eq!(lines[3]["line"], 4);
    }
}
