//! CQ codes: `text[CQ:type,key=value,...]text`.
//!
//! The type runs to the first `,` or `]`; each parameter splits at its first `=`.
//! Text escapes `&amp; &#91; &#93;`, parameter values also `&#44;`, and unescaping
//! happens after splitting, never before.

use std::collections::BTreeMap;

use crate::domain::{Id, Mention, Message, Segment};

/// Parses a CQ-code string. Malformed codes (no closing `]`) are kept as text,
/// since a member may well type `[CQ:` in a message.
pub fn parse(input: &str) -> Message {
    let mut segments = Vec::new();
    let mut rest = input;
    while let Some(start) = rest.find("[CQ:") {
        let Some(len) = rest[start..].find(']') else {
            break;
        };
        if start > 0 {
            segments.push(Segment::Text {
                text: unescape(&rest[..start]),
            });
        }
        let code = &rest[start + 4..start + len];
        let mut parts = code.split(',');
        let kind = parts.next().unwrap_or_default().to_string();
        let data: BTreeMap<String, String> = parts
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.to_string(), unescape(v)),
                None => (p.to_string(), String::new()),
            })
            .collect();
        segments.push(segment_from(kind, data));
        rest = &rest[start + len + 1..];
    }
    if !rest.is_empty() {
        segments.push(Segment::Text {
            text: unescape(rest),
        });
    }
    Message::from_segments(segments)
}

/// Writes a message as a CQ-code string (used for readable transcripts and for
/// gateways configured to take strings).
pub fn format(message: &Message) -> String {
    let mut out = String::new();
    for segment in message.segments() {
        let (kind, data) = match segment_to(segment) {
            (_, None) => {
                if let Segment::Text { text } = segment {
                    out.push_str(&escape(text, false));
                }
                continue;
            }
            (kind, Some(data)) => (kind, data),
        };
        out.push_str("[CQ:");
        out.push_str(kind);
        for (k, v) in &data {
            out.push(',');
            out.push_str(k);
            out.push('=');
            out.push_str(&escape(v, true));
        }
        out.push(']');
    }
    out
}

/// Builds a typed segment from a segment type and its string parameters; shared by
/// the CQ-string and the segment-array encodings so both give the same message.
pub fn segment_from(kind: String, mut data: BTreeMap<String, String>) -> Segment {
    let mut take = |key: &str| data.remove(key);
    match kind.as_str() {
        "text" => Segment::Text {
            text: take("text").unwrap_or_default(),
        },
        "at" => match take("qq") {
            Some(qq) if qq == "all" => Segment::At {
                target: Mention::All,
            },
            Some(qq) if !qq.is_empty() => Segment::At {
                target: Mention::User(id_from_text(qq)),
            },
            _ => Segment::Other { kind, data },
        },
        "face" => match take("id") {
            Some(id) => Segment::Face { id },
            None => Segment::Other { kind, data },
        },
        "image" => match take("file") {
            Some(file) => Segment::Image {
                file,
                url: take("url"),
            },
            None => Segment::Other { kind, data },
        },
        "reply" => match take("id") {
            Some(id) if !id.is_empty() => Segment::Reply {
                id: id_from_text(id),
            },
            _ => Segment::Other { kind, data },
        },
        _ => Segment::Other { kind, data },
    }
}

/// The segment type and parameters of a non-text segment (`None` for text).
pub fn segment_to(segment: &Segment) -> (&str, Option<BTreeMap<String, String>>) {
    let one = |k: &str, v: &str| Some(BTreeMap::from([(k.to_string(), v.to_string())]));
    match segment {
        Segment::Text { .. } => ("text", None),
        Segment::At { target } => (
            "at",
            one(
                "qq",
                match target {
                    Mention::All => "all",
                    Mention::User(id) => id.as_str(),
                },
            ),
        ),
        Segment::Face { id } => ("face", one("id", id)),
        Segment::Image { file, url } => {
            let mut data = BTreeMap::from([("file".to_string(), file.clone())]);
            if let Some(url) = url {
                data.insert("url".into(), url.clone());
            }
            ("image", Some(data))
        }
        Segment::Reply { id } => ("reply", one("id", id.as_str())),
        Segment::Other { kind, data } => (kind, Some(data.clone())),
    }
}

/// Ids inside messages travel as strings; digits are taken as the numeric id they
/// name, so they compare and serialise like ids from event fields.
fn id_from_text(text: String) -> Id {
    match text.parse::<i64>() {
        Ok(n) if n.to_string() == text => Id::number(n),
        _ => Id::text(text),
    }
}

fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    s.replace("&#44;", ",")
        .replace("&#91;", "[")
        .replace("&#93;", "]")
        .replace("&amp;", "&")
}

fn escape(s: &str, in_param: bool) -> String {
    let s = s
        .replace('&', "&amp;")
        .replace('[', "&#91;")
        .replace(']', "&#93;");
    if in_param {
        s.replace(',', "&#44;")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(t: &str) -> Segment {
        Segment::Text { text: t.into() }
    }

    #[test]
    fn the_notes_example_parses_into_its_four_segments() {
        let m = parse(
            "&#91;第一部分&#93;[CQ:image,file=123.jpg]图片之后的部分，表情：[CQ:face,id=123]",
        );
        assert_eq!(
            m.0,
            vec![
                text("[第一部分]"),
                Segment::Image {
                    file: "123.jpg".into(),
                    url: None
                },
                text("图片之后的部分，表情："),
                Segment::Face { id: "123".into() },
            ]
        );
    }

    #[test]
    fn parameters_split_at_the_first_equals_and_unescape_after_splitting() {
        let m = parse("[CQ:share,title=a=b&#44;c,url=x&amp;y]");
        let Segment::Other { kind, data } = &m.0[0] else {
            panic!("{m:?}")
        };
        assert_eq!(kind, "share");
        assert_eq!(data["title"], "a=b,c");
        assert_eq!(data["url"], "x&y");
    }

    #[test]
    fn mentions_of_users_and_of_everyone_are_told_apart() {
        let m = parse("[CQ:at,qq=10001000] hi [CQ:at,qq=all][CQ:at,qq=wxid_x]");
        let ids: Vec<_> = m.mentions().map(|i| i.to_string()).collect();
        assert_eq!(ids, ["10001000", "wxid_x"]);
        assert!(m.0.contains(&Segment::At {
            target: Mention::All
        }));
    }

    #[test]
    fn an_unclosed_code_is_kept_as_text() {
        assert_eq!(
            parse("look [CQ:face,id=1").0,
            vec![text("look [CQ:face,id=1")]
        );
    }

    #[test]
    fn formatting_then_parsing_gives_the_same_message() {
        let m = Message::from_segments([
            text("a&b [x], y"),
            Segment::At {
                target: Mention::User(Id::number(5)),
            },
            Segment::Other {
                kind: "share".into(),
                data: BTreeMap::from([("title".into(), "t,=[]&".into())]),
            },
        ]);
        assert_eq!(parse(&format(&m)), m);
    }
}
