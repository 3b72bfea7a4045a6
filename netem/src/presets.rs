//! Named networks, each taken from a published measurement or a published tool
//! preset (docs/network.md lists them with their sources and what was rounded).
//!
//! Sources:
//! - `wifi`: the "WiFi" preset of Chrome DevTools' network throttling (2017 list:
//!   30 Mbps down, 15 Mbps up, 2 ms latency; DevTools counted 1 Mbps as 1024×1024
//!   bit/s, rounded here to decimal megabits).
//! - `lte`, `lossy-lte`: Chrome DevTools "Fast 4G" preset (Chromium
//!   `NetworkManager.ts`: 9 Mbps down, 1.5 Mbps up, 60 ms target RTT). DevTools
//!   multiplies its latency by 2.75 and its throughput by 0.9 to compensate for
//!   throttling whole requests; this link works per packet, so the target values
//!   are used. `lossy-lte` adds 1% loss: the Federal Communications Commission's
//!   *Measuring Broadband America* reports chart peak-period loss in the bands
//!   below 0.4%, 0.4–1% and above 1%; 1% is the edge of the worst band.
//! - `3g`: WebPageTest's "Mobile 3G" connectivity profile (1.6 Mbps / 768 kbps,
//!   300 ms RTT; `connectivity.ini.sample`), which Lighthouse's "Regular 3G" follows.
//! - `satellite`: a geostationary link, ~600 ms typical round trip (Computer
//!   Science 7, Friedrich-Alexander-Universität Erlangen-Nürnberg, 2024; the orbit
//!   at 35,786 km alone gives at least 477 ms of propagation).
//! - `intercontinental`: Paris ↔ Sydney, 348.84 ms in WonderProxy's city-to-city
//!   ping table ("Miles per Millisecond", 2011), rounded to 350 ms.
//! - `edge` / `origin`: a server in a neighbouring city vs. one across an ocean:
//!   Milan ↔ Zurich 11.17 ms and New York ↔ Zurich 101.03 ms in the same
//!   WonderProxy table, rounded to 11 ms and 100 ms.
//! - `lan`: switched Gigabit Ethernet (IEEE 802.3ab, 1 Gbit/s each way) with no
//!   added delay: a LAN's round trip is far below what the link can resolve usefully.

use crate::spec::NetworkSpec;

/// A named network: the keys it stands for, what it models and where its figures come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    pub name: &'static str,
    pub keys: &'static str,
    pub description: &'static str,
    pub source: &'static str,
}

pub const PRESETS: &[Preset] = &[
    Preset {
        name: "lan",
        keys: "down=1gbit,up=1gbit",
        description: "switched Gigabit Ethernet, no added delay",
        source: "IEEE 802.3ab (1000BASE-T) line rate",
    },
    Preset {
        name: "wifi",
        keys: "rtt=2ms,down=30mbit,up=15mbit",
        description: "home Wi-Fi on a fast line",
        source: "Chrome DevTools network throttling preset \"WiFi\" (30/15 Mbps, 2 ms), 2017",
    },
    Preset {
        name: "lte",
        keys: "rtt=60ms,down=9mbit,up=1500kbit",
        description: "a typical 4G/LTE phone connection",
        source: "Chrome DevTools preset \"Fast 4G\" (9 Mbps / 1.5 Mbps, 60 ms target RTT), Chromium NetworkManager.ts",
    },
    Preset {
        name: "lossy-lte",
        keys: "rtt=60ms,loss=1%,down=9mbit,up=1500kbit",
        description: "LTE with 1% random loss per direction",
        source: "Chrome DevTools \"Fast 4G\" + 1% loss, the worst band of the FCC Measuring Broadband America loss charts",
    },
    Preset {
        name: "3g",
        keys: "rtt=300ms,down=1600kbit,up=768kbit",
        description: "a 3G phone connection",
        source: "WebPageTest connectivity profile \"Mobile 3G\" (1.6 Mbps / 768 kbps, 300 ms RTT)",
    },
    Preset {
        name: "satellite",
        keys: "rtt=600ms",
        description: "geostationary satellite internet access",
        source: "~600 ms typical GEO round trip, FAU Erlangen-Nürnberg Computer Science 7 (2024)",
    },
    Preset {
        name: "intercontinental",
        keys: "rtt=350ms",
        description: "client and server on opposite sides of the world (Paris to Sydney)",
        source: "WonderProxy city-to-city pings, Paris-Sydney 348.84 ms (2011), rounded",
    },
    Preset {
        name: "edge",
        keys: "rtt=11ms",
        description: "a server in a neighbouring city, e.g. a CDN edge (Milan to Zurich)",
        source: "WonderProxy city-to-city pings, Milan-Zurich 11.17 ms (2011), rounded",
    },
    Preset {
        name: "origin",
        keys: "rtt=100ms",
        description: "a server across an ocean, e.g. the origin behind the edge (New York to Zurich)",
        source: "WonderProxy city-to-city pings, New York-Zurich 101.03 ms (2011), rounded",
    },
];

pub fn find(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|preset| preset.name == name)
}

/// The preset as a spec that remembers its name; `None` for an unknown name.
pub fn resolve(name: &str) -> Option<NetworkSpec> {
    let preset = find(name)?;
    // The key lists above are constants checked by a unit test.
    NetworkSpec::from_preset(preset.name, preset.keys).ok()
}

pub(crate) fn names() -> String {
    let names: Vec<&str> = PRESETS.iter().map(|p| p.name).collect();
    format!("none, {}", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_parses_and_prints_as_its_name() {
        for preset in PRESETS {
            let spec = resolve(preset.name).expect(preset.name);
            assert_eq!(spec.preset(), Some(preset.name));
            assert_eq!(spec.to_string(), preset.name);
            assert!(!preset.description.is_empty() && !preset.source.is_empty());
        }
    }
}
