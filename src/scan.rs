//! `qunbot scan`: the filter over lines of stdin, one JSON object per line out,
//! for operators trying a word list and for benchmarks. It streams: one line in
//! memory at a time.

use std::io::{BufRead, Write};

use serde::Serialize;

use crate::config::FilterConfig;
use crate::filter::{Filter, Hit};

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

/// One line's answer, written straight out (no JSON tree per line).
#[derive(Serialize)]
struct Record<'a> {
    line: usize,
    hits: &'a [Hit<'a>],
    action: &'a str,
}

#[derive(Serialize)]
struct Unreadable {
    line: usize,
    error: String,
}

/// How many lines a worker takes at a time, and how many workers scan at once.
#[derive(Clone, Copy, Debug)]
pub struct Batches {
    pub lines: usize,
    pub workers: usize,
}

impl Batches {
    /// One line at a time: each answer is written before the next line is read
    /// (someone typing at a terminal sees it at once).
    pub const INTERACTIVE: Batches = Batches {
        lines: 1,
        workers: 1,
    };

    /// For piped input: 1,024 lines a batch, a worker per core.
    pub fn piped() -> Batches {
        Batches {
            lines: 1024,
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// Scans every line of `input` and writes one JSON line per input line, in
/// input order. Lines are read in rounds of one batch per worker and the
/// batches scanned side by side; memory holds one round.
pub fn scan_lines(
    mut input: impl BufRead,
    mut out: impl Write,
    filter: &Filter,
    rules: Option<&FilterConfig>,
    batches: Batches,
) -> std::io::Result<usize> {
    let mut line = 0;
    loop {
        let mut round: Vec<Vec<Vec<u8>>> = Vec::new();
        'read: for _ in 0..batches.workers.max(1) {
            let mut batch = Vec::new();
            while batch.len() < batches.lines.max(1) {
                let mut buf = Vec::new();
                if input.read_until(b'\n', &mut buf)? == 0 {
                    if !batch.is_empty() {
                        round.push(batch);
                    }
                    break 'read;
                }
                while matches!(buf.last(), Some(b'\n' | b'\r')) {
                    buf.pop();
                }
                batch.push(buf);
            }
            round.push(batch);
        }
        if round.is_empty() {
            break;
        }
        let mut first = line + 1;
        let starts: Vec<usize> = round
            .iter()
            .map(|b| {
                let at = first;
                first += b.len();
                at
            })
            .collect();
        line = first - 1;
        let written: Vec<Vec<u8>> = if round.len() == 1 {
            vec![scan_batch(&round[0], starts[0], filter, rules)]
        } else {
            std::thread::scope(|scope| {
                let workers: Vec<_> = round
                    .iter()
                    .zip(&starts)
                    .map(|(batch, at)| scope.spawn(move || scan_batch(batch, *at, filter, rules)))
                    .collect();
                workers
                    .into_iter()
                    .map(|w| w.join().unwrap_or_default())
                    .collect()
            })
        };
        for bytes in written {
            out.write_all(&bytes)?;
        }
        out.flush()?;
    }
    Ok(line)
}

/// One JSON line per line of `batch`, numbered from `first`.
fn scan_batch(
    batch: &[Vec<u8>],
    first: usize,
    filter: &Filter,
    rules: Option<&FilterConfig>,
) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, bytes) in batch.iter().enumerate() {
        let line = first + i;
        // Writing to a Vec cannot fail.
        let _ = match std::str::from_utf8(bytes) {
            Ok(text) => {
                // The live pipeline: the config's link, phone and WeChat-id rules too.
                let hits = filter.scan_with(rules.and_then(|r| r.links.as_deref()), text);
                let mut categories: Vec<&str> = Vec::new();
                for h in &hits {
                    if !categories.contains(&h.category) {
                        categories.push(h.category);
                    }
                }
                let record = Record {
                    line,
                    hits: &hits,
                    action: &action(&categories, rules),
                };
                serde_json::to_writer(&mut out, &record)
            }
            Err(e) => {
                let error = format!("not valid UTF-8: {e}");
                serde_json::to_writer(&mut out, &Unreadable { line, error })
            }
        };
        out.push(b'\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::filter::{Normalization, WordList};

    #[test]
    fn each_line_gets_its_hits_and_bad_utf8_an_error() {
        let list = WordList::parse("[ad]\n加群\n", Normalization::default());
        let filter = Filter::new(&list, Normalization::default());
        let input: &[u8] = b"hello\n\xe5\x8a\xa0 \xe7\xbe\xa4!\r\n\xff\xfe\nlast";
        let mut out = Vec::new();
        assert_eq!(
            scan_lines(input, &mut out, &filter, None, Batches::piped()).unwrap(),
            4
        );
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

    #[test]
    fn lines_scanned_in_parallel_batches_come_out_in_input_order() {
        let list = WordList::parse("[ad]\n加群\n", Normalization::default());
        let filter = Filter::new(&list, Normalization::default());
        let input: String = (0..1000)
            .map(|i| {
                if i % 3 == 0 {
                    "快加群\n"
                } else {
                    "你好\n"
                }
            })
            .collect();
        let mut out = Vec::new();
        let batches = Batches {
            lines: 7,
            workers: 3,
        };
        assert_eq!(
            scan_lines(input.as_bytes(), &mut out, &filter, None, batches).unwrap(),
            1000
        );
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 1000);
        for (i, l) in lines.iter().enumerate() {
            assert_eq!(l["line"], i + 1);
            assert_eq!(
                l["hits"].as_array().unwrap().len(),
                usize::from(i % 3 == 0),
                "line {}",
                i + 1
            );
        }
    }
}
