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
}
