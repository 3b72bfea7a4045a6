//! What an answer records: requests, deliveries (latency for this worker's
//! own publishers, loss and duplicates for all of them), foreign messages,
//! lag and gap notices. The per-message path: no allocation, no lock beyond
//! the thread's own shard, no `Arc` clone.

use super::{Client, Shared};
use crate::error::{ClientError, ErrorKind};
use crate::marker::{self, Stamp};
use crate::profile::CursorFrom;
use crate::record::record;

impl Client {
    /// One subscribe request (or stream) answered; `empty` when it carried no message.
    pub fn request(&self, empty: bool) {
        let rec = &self.shared.rec;
        let in_window = rec.in_window(rec.clock.now_us());
        let mut s = rec.shard();
        s.sec.requests += 1;
        s.sec.empty += u64::from(empty);
        if in_window {
            s.win.requests += 1;
            s.win.empty += u64::from(empty);
        }
    }

    /// One received unit (a poll body, an SSE event's data, a WebSocket
    /// frame) at `now_us`: split it into messages as the profile says, find
    /// each one's marker, record them, and move the cursors that come from
    /// the body or the last message. Returns how many messages it held.
    /// `shared` is the caller's handle on `self.shared` (taken once per
    /// session): cloning the `Arc` here, per unit, was contended.
    pub fn take_unit(
        &mut self,
        shared: &Shared,
        now_us: u64,
        unit: &[u8],
    ) -> Result<usize, ClientError> {
        let count = match &shared.sub().messages {
            Some(ptr) => self.take_items(now_us, ptr, unit)?,
            None if unit.iter().all(u8::is_ascii_whitespace) => 0,
            None => {
                let mut n = 0;
                self.record_stamps(now_us, marker::find_all(unit).inspect(|_| n += 1).map(Some));
                if n == 0 {
                    self.record_stamps(now_us, [None]);
                }
                self.cursors_from_json(unit, |from| match from {
                    CursorFrom::Message(p) => Some(p),
                    _ => None,
                })
                .map_err(not_json)?;
                n.max(1)
            }
        };
        let broken = self
            .cursors_from_json(unit, |from| match from {
                CursorFrom::Body(p) => Some(p),
                _ => None,
            })
            .err();
        self.shared.rec.trace(|| {
            let ours = marker::find_all(unit)
                .filter(|m| m.run == self.shared.run_tag)
                .count();
            format!(
                "  = {count} message(s), {ours} with this run's marker; cursors now [{}]",
                self.cursors
                    .iter()
                    .map(|c| crate::record::or_none(c.as_deref()))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        });
        match broken {
            Some(e) => Err(not_json(e)),
            None => Ok(count),
        }
    }

    /// A unit whose messages are the array at the profile's `messages`
    /// pointer: record each; the last one moves the message cursors.
    fn take_items(
        &mut self,
        now_us: u64,
        ptr: &crate::jsonptr::Pointer,
        unit: &[u8],
    ) -> Result<usize, ClientError> {
        let items = match ptr.find(unit).map_err(not_json)? {
            None => Vec::new(),
            Some(raw) => crate::jsonptr::array_items(raw).ok_or_else(|| {
                ClientError::new(
                    ErrorKind::Protocol,
                    "the profile's messages pointer does not name an array",
                )
            })?,
        };
        self.record_stamps(
            now_us,
            items.iter().map(|m| marker::find_first(m.as_bytes())),
        );
        if let Some(last) = items.last() {
            self.set_cursors(|from| match from {
                CursorFrom::Message(p) => p.find_str(last.as_bytes()).ok().flatten(),
                _ => None,
            });
        }
        Ok(items.len())
    }

    /// Record messages by their markers (`None`: a message without one).
    fn record_stamps(&mut self, now_us: u64, stamps: impl IntoIterator<Item = Option<Stamp>>) {
        let rec = &self.shared.rec;
        let recv_in_window = rec.in_window(now_us);
        let cfg = &self.shared.cfg;
        let all = cfg.publishers * u64::from(cfg.workers);
        let own = cfg.own_publishers();
        let run = self.shared.run_tag;
        let payload_len = cfg.size_bytes as u64;
        let mut s = rec.shard();
        for stamp in stamps {
            let Some(Stamp {
                publisher: p,
                seq,
                sent_us,
                ..
            }) = stamp.filter(|m| m.run == run && u64::from(m.publisher) < all)
            else {
                s.foreign += 1;
                continue;
            };
            // Another worker's publisher: its clock is not ours, so no
            // latency; it still counts for loss (see `WorkerShard`).
            let ours = own.contains(&p);
            let latency = now_us.saturating_sub(sent_us);
            if rec.in_window(sent_us) {
                if !self.tracker.receive(p, seq) {
                    continue; // duplicate: counted by the tracker, not a delivery
                }
                s.win.by_publish += 1;
                if ours {
                    record(&mut s.latency, latency);
                    s.window_first += 1;
                    if let Some(i) = rec.stage_of(sent_us) {
                        s.stage_delivery(i, latency);
                    }
                }
            }
            if ours {
                record(&mut s.sec_latency, latency);
            }
            s.sec.deliveries += 1;
            if recv_in_window {
                s.win.deliveries += 1;
                s.win.payload_bytes += payload_len;
            }
        }
    }

    /// The server reported a lag: count it; the next session resumes (from
    /// the notice's cursor when none is known yet).
    pub fn lagged(&mut self, cursor: Option<&str>) {
        self.shared.rec.shard().lagged += 1;
        if let (false, Some(c), Some(slot)) = (self.has_cursor(), cursor, self.cursors.first_mut())
        {
            *slot = Some(c.to_string());
        }
    }

    /// The server said our resume cursor was older than its history.
    pub fn gap(&self) {
        self.shared.rec.shard().gaps += 1;
    }
}

/// An answer that is not the JSON the profile expects.
fn not_json(e: serde_json::Error) -> ClientError {
    ClientError::new(
        ErrorKind::Protocol,
        format!("answer is not the JSON the profile expects: {e}"),
    )
}
