//! Reading a Callgrind output file: the total of its first event (`Ir`,
//! instructions executed) and each function's self cost.
//!
//! The format (valgrind's "Callgrind Format Specification"): header lines
//! `key: value`; `fn=` starts a function's block, and each cost line after
//! it (`POSITION… COST…`) adds to that function's self cost, except the one
//! line after a `calls=` line, which is the inclusive cost of that call.
//! Names may be compressed: `fn=(12) name` defines id 12, a later `fn=(12)`
//! or `cfn=(12)` refers to it (`cfn` shares the `fn` namespace).

use std::collections::HashMap;

/// One Callgrind dump, reduced to what the gate needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    /// Instructions executed while collecting (the `totals:`/`summary:` line,
    /// or the sum of self costs when neither is there).
    pub total: u64,
    /// Self instructions per function name (costs of one name in several
    /// objects or files are added).
    pub functions: HashMap<String, u64>,
}

impl Profile {
    /// Functions by self cost, highest first (ties by name, for stable output).
    pub fn top(&self, n: usize) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = self
            .functions
            .iter()
            .filter(|(_, c)| **c > 0)
            .map(|(k, c)| (k.clone(), *c))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }
}

/// A file that is not Callgrind output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("line {line}: {why}")]
    Line { line: usize, why: String },
    #[error("no `events:` line: not a Callgrind output file")]
    NoEvents,
    #[error("the first event is {0}, not Ir (instructions)")]
    NotInstructions(String),
}

/// Parses Callgrind output text.
pub fn parse(text: &str) -> Result<Profile, ParseError> {
    let mut names: HashMap<u64, String> = HashMap::new();
    let mut p = Profile::default();
    let mut positions = 1usize;
    let mut events = false;
    let mut declared_total: Option<u64> = None;
    let mut current: Option<String> = None;
    let mut call_cost_next = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        let bad = |why: &str| ParseError::Line {
            line: i + 1,
            why: why.to_string(),
        };
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let first = line.as_bytes()[0];
        if first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'*') {
            if !events {
                return Err(ParseError::NoEvents);
            }
            let cost = cost_of(line, positions).ok_or_else(|| bad("a cost line without a cost"))?;
            if std::mem::take(&mut call_cost_next) {
                continue; // the inclusive cost of a call: not self cost
            }
            let name = current.clone().unwrap_or_else(|| "???".to_string());
            *p.functions.entry(name).or_default() += cost;
            continue;
        }
        if let Some(spec) = line.strip_prefix("fn=") {
            current = Some(resolve(spec, &mut names).map_err(|w| bad(&w))?);
        } else if let Some(spec) = line.strip_prefix("cfn=") {
            resolve(spec, &mut names).map_err(|w| bad(&w))?;
        } else if line.starts_with("calls=") {
            call_cost_next = true;
        } else if let Some(v) = line.strip_prefix("positions:") {
            positions = v.split_whitespace().count().max(1);
        } else if let Some(v) = line.strip_prefix("events:") {
            let first = v.split_whitespace().next().unwrap_or("");
            if first != "Ir" {
                return Err(ParseError::NotInstructions(first.to_string()));
            }
            events = true;
        } else if let Some(v) = line
            .strip_prefix("totals:")
            .or_else(|| line.strip_prefix("summary:"))
        {
            let n = v.split_whitespace().next().and_then(|n| n.parse().ok());
            declared_total = Some(n.ok_or_else(|| bad("a total that is not a number"))?);
        }
        // Other lines (ob=, fl=, fi=, fe=, cob=, cfi=, jump=, headers) do not
        // change whose cost the next line is.
    }
    if !events {
        return Err(ParseError::NoEvents);
    }
    p.total = declared_total.unwrap_or_else(|| p.functions.values().sum());
    Ok(p)
}

/// The first event's cost on a cost line (after `positions` position columns);
/// a line may leave out trailing zero costs.
fn cost_of(line: &str, positions: usize) -> Option<u64> {
    let mut cols = line.split_whitespace();
    for _ in 0..positions {
        cols.next()?;
    }
    match cols.next() {
        Some(c) => c.parse().ok(),
        None => Some(0),
    }
}

/// `(12) name` defines id 12; `(12)` refers to it; a plain `name` is itself.
fn resolve(spec: &str, names: &mut HashMap<u64, String>) -> Result<String, String> {
    let spec = spec.trim();
    let Some(rest) = spec.strip_prefix('(') else {
        return Ok(spec.to_string());
    };
    let (id, name) = rest
        .split_once(')')
        .ok_or_else(|| format!("unclosed name id in '{spec}'"))?;
    let id: u64 = id
        .parse()
        .map_err(|_| format!("name id '{id}' is not a number"))?;
    let name = name.trim();
    if name.is_empty() {
        names
            .get(&id)
            .cloned()
            .ok_or_else(|| format!("name id {id} used before it was defined"))
    } else {
        names.insert(id, name.to_string());
        Ok(name.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# callgrind format
version: 1
creator: callgrind-3.19.0
positions: line
events: Ir
summary: 1000

ob=(1) /bin/x
fl=(1) a.rs
fn=(1) main
1 10
+2 5
cfl=(1)
cfn=(2) rtbench_server::hub::publish
calls=1 7
* 900
fn=(2)
7 600
cfn=(3) memcpy
calls=3 1
7 300
fl=(2) b.rs
fn=(3)
1 300
fn=(4) lonely
3
totals: 1000
";

    #[test]
    fn self_costs_skip_call_lines_and_follow_compressed_names() {
        let p = parse(SAMPLE).expect("parse");
        assert_eq!(p.total, 1000);
        assert_eq!(p.functions["main"], 15);
        assert_eq!(p.functions["rtbench_server::hub::publish"], 600);
        assert_eq!(p.functions["memcpy"], 300);
        assert_eq!(p.functions["lonely"], 0, "a line without a cost is zero");
        let top = p.top(2);
        assert_eq!(top[0], ("rtbench_server::hub::publish".to_string(), 600));
        assert_eq!(top[1].0, "memcpy");
        assert_eq!(p.top(10).len(), 3, "zero-cost functions are left out");
    }

    #[test]
    fn total_falls_back_to_the_sum_and_instr_positions_are_skipped() {
        let text = "positions: instr line\nevents: Ir\nfn=f\n0x10 3 40\n0x14 4 2\n";
        let p = parse(text).expect("parse");
        assert_eq!(p.functions["f"], 42);
        assert_eq!(p.total, 42);
    }

    #[test]
    fn rejects_what_is_not_callgrind_output() {
        assert_eq!(parse("hello\n1 2\n"), Err(ParseError::NoEvents));
        assert_eq!(parse(""), Err(ParseError::NoEvents));
        assert!(matches!(
            parse("events: Dr Ir\n"),
            Err(ParseError::NotInstructions(_))
        ));
        assert!(matches!(
            parse("events: Ir\nfn=(9)\n"),
            Err(ParseError::Line { line: 2, .. })
        ));
        assert!(matches!(
            parse("events: Ir\ntotals: many\n"),
            Err(ParseError::Line { .. })
        ));
    }
}
