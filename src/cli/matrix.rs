//! `rtbench bench --matrix`: sweeps of clients, rate, size or network. A
//! cell's values go through the same parser and layering as the flags (a
//! cell is one more layer over them), so `size=1k` is 1,024 bytes as
//! `--size 1k` is.
//!
//! Values are separated by commas — unless the list holds a `;`, then by
//! semicolons — because a network spec has commas of its own: a network
//! list without `;` that has keys is one spec (`network=lte,loss=2%`), and
//! several specs with keys are separated by `;` (`network=lte;rtt=80ms,loss=1%`).

use super::CliError;
use loadgen::Scenario;
use protocol::Transport;

/// One swept setting and its values.
#[derive(Debug, Clone)]
pub struct Axis {
    pub key: AxisKey,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AxisKey {
    Clients,
    Rate,
    Size,
    Network,
}

impl AxisKey {
    fn name(self) -> &'static str {
        match self {
            AxisKey::Clients => "clients",
            AxisKey::Rate => "rate",
            AxisKey::Size => "size",
            AxisKey::Network => "network",
        }
    }
}

pub fn parse_axis(s: &str) -> Result<Axis, String> {
    let (k, vs) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected KEY=V1,V2,… e.g. clients=100,1000"))?;
    let key = match k.trim() {
        "clients" => AxisKey::Clients,
        "rate" => AxisKey::Rate,
        "size" => AxisKey::Size,
        "network" => AxisKey::Network,
        other => {
            return Err(format!(
                "unknown matrix key {other:?}: use clients, rate, size or network"
            ));
        }
    };
    let values: Vec<String> = split_values(key, vs)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    // The flag's parser, through the same layering as a cell's run.
    for v in &values {
        Scenario::defaults().with(key.name(), v).map_err(|e| {
            let hint = if key == AxisKey::Network {
                " (separate several networks with `;` when one has keys: network=lte;lte,loss=2%)"
            } else {
                ""
            };
            format!("{}={v}: {}{hint}", key.name(), e.why)
        })?;
    }
    if values.is_empty() {
        return Err(format!("{}= needs at least one value", key.name()));
    }
    Ok(Axis { key, values })
}

/// The values of a list: separated by `;` when it holds one, else by
/// commas — except a network list without `;` that has keys
/// (`rtt=80ms,loss=1%`, `lte,loss=2%`): one spec, whose commas are its own.
fn split_values(key: AxisKey, list: &str) -> Box<dyn Iterator<Item = &str> + '_> {
    if list.contains(';') {
        Box::new(list.split(';'))
    } else if key == AxisKey::Network && list.contains('=') {
        Box::new(std::iter::once(list))
    } else {
        Box::new(list.split(','))
    }
}

/// One point of the sweep: the settings it overrides.
#[derive(Debug, Clone, Default)]
pub struct Cell(Vec<(AxisKey, String)>);

impl Cell {
    pub fn label(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{}={v}", k.name()))
            .collect::<Vec<_>>()
            .join("-")
    }

    /// The cell's settings over `base`, as if given as flags.
    pub fn apply(&self, base: &Scenario) -> Result<Scenario, CliError> {
        let mut s = base.clone();
        for (k, v) in &self.0 {
            s = s
                .with(k.name(), v)
                .map_err(|e| CliError::usage(format!("--matrix {}={v}: {}", k.name(), e.why)))?;
        }
        Ok(s)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

pub fn cells(axes: &[Axis]) -> Vec<Cell> {
    let mut out = vec![Cell::default()];
    for axis in axes {
        out = out
            .into_iter()
            .flat_map(|c| {
                axis.values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.0.push((axis.key, v.clone()));
                    c
                })
            })
            .collect();
    }
    out
}

pub fn file_name(cell: &Cell, rep: u32, repeats: u32, t: Transport) -> String {
    let mut s = String::new();
    if !cell.0.is_empty() {
        s.push_str(&cell.label());
        s.push('-');
    }
    s.push_str(t.as_str());
    if repeats > 1 {
        s.push_str(&format!("-r{rep}"));
    }
    s.push_str(".json");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_cells_are_the_product() {
        let axes = vec![
            parse_axis("clients=10,20").expect("axis"),
            parse_axis("rate=1,5").expect("axis"),
        ];
        let c = cells(&axes);
        assert_eq!(c.len(), 4);
        assert_eq!(c[0].label(), "clients=10-rate=1");
        assert_eq!(c[3].label(), "clients=20-rate=5");
        assert!(parse_axis("colour=red").is_err());
        assert!(parse_axis("clients=ten").is_err());
        assert_eq!(
            file_name(&c[1], 2, 3, Transport::Sse),
            "clients=10-rate=5-sse-r2.json"
        );
        assert_eq!(file_name(&Cell::default(), 1, 1, Transport::Ws), "ws.json");
    }

    #[test]
    fn cells_use_the_flags_parsers() {
        let base = Scenario::defaults();
        let axis = parse_axis("size=1k,100").expect("sizes");
        let sizes: Vec<u64> = cells(&[axis])
            .iter()
            .map(|c| c.apply(base).expect("cell").size.0)
            .collect();
        assert_eq!(sizes, [1024, 100]);
        let axis = parse_axis("rate=10/s,600/m").expect("rates");
        for c in cells(&[axis]) {
            assert_eq!(c.apply(base).expect("cell").rate.0, 10.0);
        }
        let e = parse_axis("size=1q").expect_err("bad size");
        assert!(e.contains("1k = 1,024"), "{e}");
    }

    #[test]
    fn network_cells_are_presets_or_specs_separated_by_semicolons() {
        let base = Scenario::defaults();
        let networks = |axis: &str| -> Vec<String> {
            cells(&[parse_axis(axis).expect("axis")])
                .iter()
                .map(|c| {
                    let s = c.apply(base).expect("cell");
                    s.network.map(|n| n.to_string()).unwrap_or_default()
                })
                .collect()
        };
        assert_eq!(networks("network=lan,lte,3g"), ["lan", "lte", "3g"]);
        // A spec with commas: the list is split at semicolons instead.
        assert_eq!(
            networks("network=lte;rtt=80ms,loss=1%;3g,loss=2%"),
            ["lte", "rtt=80ms,loss=1%", "3g,loss=2%"]
        );
        // Without `;`, a list with keys is one spec.
        assert_eq!(networks("network=lte,loss=2%"), ["lte,loss=2%"]);
        let e = parse_axis("network=lte,3g,loss=2%").expect_err("two presets in one spec");
        assert!(e.contains("separate several networks with `;`"), "{e}");
        let e = parse_axis("network=5g").expect_err("unknown preset");
        assert!(e.contains("lte"), "names the presets: {e}");
        let label = cells(&[parse_axis("network=lte").expect("axis")])[0].label();
        assert_eq!(label, "network=lte");
    }
}
