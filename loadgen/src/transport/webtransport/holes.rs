//! A datagram subscriber's view of the room's ids (consecutive integers):
//! the highest seen (its resume cursor, whatever order datagrams came in)
//! and, with catch-up, the holes below it, each given a short reorder
//! window before it is fetched.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long a hole may still be filled by a late datagram.
pub const REORDER_WINDOW: Duration = Duration::from_millis(150);
/// At most this many holes are remembered (older ones are given up).
const MAX_HOLES: usize = 4096;

#[derive(Debug, Default)]
pub struct Holes {
    pub highest: Option<u64>,
    /// Missing id → when it was noticed.
    missing: BTreeMap<u64, Instant>,
}

impl Holes {
    /// Start from a resume cursor (ids at or below it are not expected).
    pub fn after(cursor: Option<u64>) -> Self {
        Holes {
            highest: cursor,
            missing: BTreeMap::new(),
        }
    }

    /// Id `id` arrived; `track`: remember the holes it reveals.
    pub fn saw(&mut self, id: u64, now: Instant, track: bool) {
        match self.highest {
            Some(h) if id > h => {
                if track {
                    let from = (h + 1).max(id.saturating_sub(MAX_HOLES as u64));
                    for m in from..id {
                        self.missing.insert(m, now);
                    }
                    while self.missing.len() > MAX_HOLES {
                        self.missing.pop_first();
                    }
                }
                self.highest = Some(id);
            }
            Some(_) => {
                self.missing.remove(&id);
            }
            None => self.highest = Some(id),
        }
    }

    /// Holes older than the reorder window, taken out (ascending).
    pub fn due(&mut self, now: Instant) -> Vec<u64> {
        let due: Vec<u64> = self
            .missing
            .iter()
            .filter(|(_, at)| now.duration_since(**at) >= REORDER_WINDOW)
            .map(|(id, _)| *id)
            .collect();
        for id in &due {
            self.missing.remove(id);
        }
        due
    }

    pub fn is_empty(&self) -> bool {
        self.missing.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holes_wait_for_late_datagrams_then_come_due() {
        let t0 = Instant::now();
        let mut h = Holes::after(Some(40));
        h.saw(41, t0, true);
        h.saw(44, t0, true); // 42, 43 missing
        h.saw(43, t0, true); // late: fills 43
        assert_eq!(h.highest, Some(44));
        assert!(h.due(t0).is_empty());
        assert_eq!(h.due(t0 + REORDER_WINDOW), vec![42]);
        assert!(h.is_empty());
        // Without tracking, only the highest moves.
        h.saw(50, t0, false);
        assert_eq!(h.highest, Some(50));
        assert!(h.is_empty());
    }
}
