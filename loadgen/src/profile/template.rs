//! Templates in profiles: `/rooms/{room}/messages?wait={wait}`,
//! `{"user":"{pub}","text":"{payload}"}`. A placeholder is `{` + a known
//! lower-case name + `}`; every other brace is literal, so JSON bodies need
//! no escaping. Compiled once; rendering is a few `push_str`s.

use std::fmt::Write as _;

/// A value a template can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Var {
    /// The room (channel) name.
    Room,
    /// This connection's name: `c<N>` for subscribers, `p<N>` for publishers.
    Client,
    /// The publisher's name, `p<N>`.
    Pub,
    /// The marker-carrying message text.
    Payload,
    /// Long-poll wait in seconds (`25`, `0.5`).
    Wait,
    /// Long-poll wait in milliseconds.
    WaitMs,
}

impl Var {
    const ALL: [(&'static str, Var); 6] = [
        ("room", Var::Room),
        ("client", Var::Client),
        ("pub", Var::Pub),
        ("payload", Var::Payload),
        ("wait", Var::Wait),
        ("wait_ms", Var::WaitMs),
    ];

    pub fn name(self) -> &'static str {
        Var::ALL
            .iter()
            .find(|(_, v)| *v == self)
            .map_or("?", |(n, _)| n)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Lit(String),
    Var(Var),
}

/// A compiled template.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    pieces: Vec<Piece>,
}

/// Values for rendering; a variable the field does not allow was refused at
/// compile time, so a missing one renders as empty.
#[derive(Debug, Default, Clone, Copy)]
pub struct Vars<'a> {
    pub room: &'a str,
    pub client: &'a str,
    pub payload: &'a str,
    pub wait_secs: f64,
}

impl Template {
    /// Compile `text`, allowing only `allowed` placeholders.
    pub fn compile(text: &str, allowed: &[Var]) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            lit.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let name_len = after
                .bytes()
                .take_while(|b| b.is_ascii_lowercase() || *b == b'_')
                .count();
            if name_len == 0 || after.as_bytes().get(name_len) != Some(&b'}') {
                lit.push('{');
                rest = after;
                continue;
            }
            let name = &after[..name_len];
            let Some(var) = Var::ALL.iter().find(|(n, _)| *n == name).map(|(_, v)| *v) else {
                return Err(format!(
                    "unknown placeholder {{{name}}}; this field takes {}",
                    list(allowed)
                ));
            };
            if !allowed.contains(&var) {
                return Err(format!(
                    "placeholder {{{name}}} cannot be used here; this field takes {}",
                    list(allowed)
                ));
            }
            if !lit.is_empty() {
                pieces.push(Piece::Lit(std::mem::take(&mut lit)));
            }
            pieces.push(Piece::Var(var));
            rest = &after[name_len + 1..];
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit));
        }
        Ok(Template { pieces })
    }

    /// Does the template use `var`?
    pub fn uses(&self, var: Var) -> bool {
        self.pieces.contains(&Piece::Var(var))
    }

    /// Append the rendered text to `out`.
    pub fn render_into(&self, vars: &Vars<'_>, out: &mut String) {
        for p in &self.pieces {
            match p {
                Piece::Lit(s) => out.push_str(s),
                Piece::Var(Var::Room) => out.push_str(vars.room),
                Piece::Var(Var::Client | Var::Pub) => out.push_str(vars.client),
                Piece::Var(Var::Payload) => out.push_str(vars.payload),
                Piece::Var(Var::Wait) => {
                    let s = vars.wait_secs;
                    if s.fract() == 0.0 {
                        let _ = write!(out, "{}", s as u64);
                    } else {
                        let _ = write!(out, "{s:.3}");
                    }
                }
                Piece::Var(Var::WaitMs) => {
                    let _ = write!(out, "{}", (vars.wait_secs * 1000.0).round() as u64);
                }
            }
        }
    }

    pub fn render(&self, vars: &Vars<'_>) -> String {
        let mut s = String::new();
        self.render_into(vars, &mut s);
        s
    }
}

fn list(allowed: &[Var]) -> String {
    if allowed.is_empty() {
        return "no placeholders".into();
    }
    allowed
        .iter()
        .map(|v| format!("{{{}}}", v.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_json_bodies_without_escaping() {
        let t = Template::compile(
            r#"{"user":"{pub}","text":"{payload}","n":{}}"#,
            &[Var::Pub, Var::Payload],
        )
        .expect("compile");
        let v = Vars {
            client: "p1",
            payload: "rtb1:x",
            ..Vars::default()
        };
        assert_eq!(t.render(&v), r#"{"user":"p1","text":"rtb1:x","n":{}}"#);
        let w = Template::compile(
            "/s/{room}?w={wait}&ms={wait_ms}",
            &[Var::Room, Var::Wait, Var::WaitMs],
        )
        .expect("compile");
        let v = Vars {
            room: "r1",
            wait_secs: 2.5,
            ..Vars::default()
        };
        assert_eq!(w.render(&v), "/s/r1?w=2.500&ms=2500");
        assert!(w.uses(Var::Wait) && !w.uses(Var::Payload));
    }

    #[test]
    fn refuses_unknown_and_misplaced_placeholders() {
        let e = Template::compile("/x/{channel}", &[Var::Room]).expect_err("unknown");
        assert!(
            e.contains("unknown placeholder {channel}") && e.contains("{room}"),
            "{e}"
        );
        let e = Template::compile("/x/{payload}", &[Var::Room]).expect_err("misplaced");
        assert!(e.contains("cannot be used here"), "{e}");
        // Not placeholders: literal braces.
        let t = Template::compile("{ROOM} {} {a-b", &[]).expect("literal");
        assert_eq!(t.render(&Vars::default()), "{ROOM} {} {a-b");
    }
}
