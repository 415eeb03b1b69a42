//! Message templates operators write: text with `{name}` variables. `{mentions}`
//! becomes @mention segments; every other variable is text. Unknown variables are
//! refused when the config is loaded, not discovered in the chat.

use super::{Id, Message, Segment};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parses `text`, accepting only the variables in `allowed`.
    pub fn parse(text: &str, allowed: &[&str]) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let close = rest[open..]
                .find('}')
                .map(|c| open + c)
                .ok_or_else(|| format!("unclosed `{{` in template {text:?}"))?;
            let name = &rest[open + 1..close];
            if !allowed.contains(&name) {
                return Err(format!(
                    "unknown template variable `{{{name}}}`; this template may use {}",
                    allowed
                        .iter()
                        .map(|a| format!("{{{a}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            parts.push(Part::Var(name.to_string()));
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template { parts })
    }

    /// Fills the template: `{mentions}` with @mentions of `mentions`, other
    /// variables from `vars` (missing ones render empty).
    pub fn render(&self, mentions: &[Id], vars: &[(&str, String)]) -> Message {
        let mut segments = Vec::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => segments.push(Segment::Text { text: t.clone() }),
                Part::Var(name) if name == "mentions" => {
                    for (i, user) in mentions.iter().enumerate() {
                        if i > 0 {
                            segments.push(Segment::Text { text: " ".into() });
                        }
                        segments.push(Segment::At {
                            target: super::Mention::User(user.clone()),
                        });
                    }
                }
                Part::Var(name) => {
                    let value = vars
                        .iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default();
                    segments.push(Segment::Text { text: value });
                }
            }
        }
        Message::from_segments(segments)
    }

    /// Fills the template as [`render`](Self::render) does, leaving out the
    /// clause that holds `{var}`: a clause runs from the mark before it (，、,；;
    /// or a sentence's end 。！？!? or a line break) to the mark after it. A
    /// comma before it goes with it ("发送「已读」，领取{coupon}！" → "发送「已读」！"),
    /// else the mark after it does ("欢迎！领取{coupon}。明天见" → "欢迎！明天见").
    /// A clause holding `{mentions}` keeps all but the variable.
    pub fn render_without(&self, var: &str, mentions: &[Id], vars: &[(&str, String)]) -> Message {
        self.without_clause(var).render(mentions, vars)
    }

    fn without_clause(&self, var: &str) -> Template {
        const COMMAS: &str = "，、,；;";
        const ENDS: &str = "。！？!?\n";
        enum Tok<'a> {
            Ch(char),
            Var(&'a str),
        }
        let mark = |t: &Tok, marks: &str| matches!(t, Tok::Ch(c) if marks.contains(*c));
        let any_mark = |t: &Tok| mark(t, COMMAS) || mark(t, ENDS);
        let mut toks: Vec<Tok> = Vec::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => toks.extend(t.chars().map(Tok::Ch)),
                Part::Var(v) => toks.push(Tok::Var(v)),
            }
        }
        while let Some(at) = toks
            .iter()
            .position(|t| matches!(t, Tok::Var(v) if *v == var))
        {
            let before = toks[..at].iter().rposition(any_mark);
            let after = toks[at + 1..].iter().position(any_mark).map(|i| at + 1 + i);
            let (start, end) = match before {
                Some(b) if mark(&toks[b], COMMAS) => (b, after.unwrap_or(toks.len())),
                _ => (
                    before.map_or(0, |b| b + 1),
                    after.map_or(toks.len(), |a| a + 1),
                ),
            };
            if toks[start..end]
                .iter()
                .any(|t| matches!(t, Tok::Var(v) if *v == "mentions"))
            {
                toks.remove(at);
            } else {
                toks.drain(start..end);
            }
        }
        let mut parts = Vec::new();
        let mut text = String::new();
        for tok in toks {
            match tok {
                Tok::Ch(c) => text.push(c),
                Tok::Var(v) => {
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text)));
                    }
                    parts.push(Part::Var(v.to_string()));
                }
            }
        }
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Template { parts }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_become_at_segments_and_variables_text() {
        let t = Template::parse("欢迎 {mentions} 加入{group}！", &["mentions", "group"]).unwrap();
        let m = t.render(
            &[Id::number(1), Id::number(2)],
            &[("group", "宝妈群".into())],
        );
        assert_eq!(m.mentions().count(), 2);
        assert_eq!(m.plain_text(), "欢迎   加入宝妈群！");
    }

    #[test]
    fn unknown_variables_and_unclosed_braces_are_refused() {
        let e = Template::parse("hi {nmae}", &["name"]).unwrap_err();
        assert!(e.contains("`{nmae}`") && e.contains("{name}"), "{e}");
        assert!(Template::parse("hi {name", &["name"]).is_err());
    }

    #[test]
    fn a_clause_with_a_variable_can_be_left_out() {
        let vars = ["mentions", "group", "coupon"];
        let without = |text: &str| {
            Template::parse(text, &vars)
                .unwrap()
                .render_without("coupon", &[Id::number(1)], &[("group", "宝妈群".into())])
                .plain_text()
        };
        assert_eq!(
            without("欢迎加入{group}！发送「已读」确认群规，领取{coupon}"),
            "欢迎加入宝妈群！发送「已读」确认群规"
        );
        assert_eq!(
            without("欢迎加入{group}！完成任务领{coupon}。明天见"),
            "欢迎加入宝妈群！明天见"
        );
        assert_eq!(without("领{coupon}，欢迎加入{group}。"), "欢迎加入宝妈群。");
        assert_eq!(without("欢迎加入{group}"), "欢迎加入宝妈群");
        assert_eq!(
            without("欢迎 {mentions} 领取{coupon}！"),
            without("欢迎 {mentions} 领取！"),
            "a clause with the mentions keeps them"
        );
    }
}
