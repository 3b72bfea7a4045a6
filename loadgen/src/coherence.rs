//! Coherence: which (publisher, seq) each subscriber received, so loss,
//! duplicates and reordering are counted exactly, never estimated.
//!
//! Publishers number their messages per room (`seq` counts per publisher
//! and room), so every subscriber sees a gap-free sequence from each
//! publisher in its room and a bitset of received seqs stays dense: memory
//! is one bit per window message a subscriber should see.

use protocol::results::{PubCounts, PubRanges, RoomShard, WorkerShard};
use std::collections::BTreeMap;

/// A growable bitset of seqs.
#[derive(Debug, Default, Clone)]
pub struct SeqSet {
    /// Seq of bit 0 of `words[0]` (a multiple of 64).
    base: u64,
    words: Vec<u64>,
    len: u64,
}

impl SeqSet {
    /// Add `seq`; false if it was already there.
    pub fn insert(&mut self, seq: u64) -> bool {
        if self.words.is_empty() {
            self.base = seq & !63;
        } else if seq < self.base {
            // A seq before everything seen (rare: reordering across a
            // reconnect); shift the words up.
            let new_base = seq & !63;
            let shift = ((self.base - new_base) / 64) as usize;
            self.words.splice(0..0, std::iter::repeat_n(0, shift));
            self.base = new_base;
        }
        let off = seq - self.base;
        let (w, b) = ((off / 64) as usize, off % 64);
        if w >= self.words.len() {
            self.words.resize(w + 1, 0);
        }
        let mask = 1u64 << b;
        if self.words[w] & mask != 0 {
            return false;
        }
        self.words[w] |= mask;
        self.len += 1;
        true
    }

    pub fn contains(&self, seq: u64) -> bool {
        if seq < self.base {
            return false;
        }
        let off = seq - self.base;
        self.words
            .get((off / 64) as usize)
            .is_some_and(|w| w & (1u64 << (off % 64)) != 0)
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    /// The lowest and highest seq in the set.
    pub fn span(&self) -> Option<(u64, u64)> {
        let (i, lo) = self.words.iter().enumerate().find(|(_, w)| **w != 0)?;
        let (j, hi) = self.words.iter().enumerate().rfind(|(_, w)| **w != 0)?;
        Some((
            self.base + 64 * i as u64 + u64::from(lo.trailing_zeros()),
            self.base + 64 * j as u64 + 63 - u64::from(hi.leading_zeros()),
        ))
    }

    /// The seqs, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.words.iter().enumerate().flat_map(move |(i, &w)| {
            let base = self.base + 64 * i as u64;
            (0..64)
                .filter(move |b| w & (1u64 << b) != 0)
                .map(move |b| base + b)
        })
    }
}

/// What a subscriber received from one publisher.
#[derive(Debug, Clone)]
struct PubTrack {
    publisher: u32,
    seen: SeqSet,
    max_seq: u64,
}

/// One subscriber's record of window messages.
#[derive(Debug, Default, Clone)]
pub struct Tracker {
    pubs: Vec<PubTrack>,
    pub duplicate: u64,
    pub reordered: u64,
    /// Window messages first received through a catch-up fetch.
    pub recovered: u64,
    /// Messages taken now come from a catch-up fetch.
    pub recovering: bool,
}

impl Tracker {
    /// Note a window message; true on its first receipt.
    pub fn receive(&mut self, publisher: u32, seq: u64) -> bool {
        let i = match self.pubs.iter().position(|p| p.publisher == publisher) {
            Some(i) => i,
            None => {
                self.pubs.push(PubTrack {
                    publisher,
                    seen: SeqSet::default(),
                    max_seq: seq,
                });
                self.pubs.len() - 1
            }
        };
        let t = &mut self.pubs[i];
        if !t.seen.insert(seq) {
            self.duplicate += 1;
            return false;
        }
        if seq < t.max_seq {
            self.reordered += 1;
        }
        if self.recovering {
            self.recovered += 1;
        }
        t.max_seq = t.max_seq.max(seq);
        true
    }

    fn get(&self, publisher: u32) -> Option<&SeqSet> {
        self.pubs
            .iter()
            .find(|p| p.publisher == publisher)
            .map(|p| &p.seen)
    }

    /// Distinct window messages received from publishers `own`.
    fn total(&self, own: &std::ops::Range<u32>) -> u64 {
        self.pubs
            .iter()
            .filter(|p| own.contains(&p.publisher))
            .map(|p| p.seen.len())
            .sum()
    }

    /// (publisher, seqs received) of every publisher.
    pub fn each(&self) -> impl Iterator<Item = (u32, &SeqSet)> {
        self.pubs.iter().map(|p| (p.publisher, &p.seen))
    }
}

/// Acknowledged window publishes: for each room, per publisher, the seqs.
#[derive(Debug, Default, Clone)]
pub struct Expected {
    pub rooms: Vec<Vec<(u32, Vec<u64>)>>,
    /// A staged run: per room and publisher, the first seq of each stage.
    pub stage_starts: Vec<BTreeMap<u32, Vec<u64>>>,
}

impl Expected {
    pub fn new(rooms: usize) -> Self {
        Expected {
            rooms: vec![Vec::new(); rooms],
            stage_starts: vec![BTreeMap::new(); rooms],
        }
    }

    /// Add one publisher's acknowledged window seqs for `room`.
    pub fn add(&mut self, room: usize, publisher: u32, seqs: Vec<u64>) {
        if !seqs.is_empty() {
            self.rooms[room].push((publisher, seqs));
        }
    }

    /// Where one publisher's stages start in `room` (a staged run).
    pub fn add_stages(&mut self, room: usize, publisher: u32, starts: Vec<u64>) {
        if !starts.is_empty() {
            self.stage_starts[room].insert(publisher, starts);
        }
    }

    /// The stage of message `seq` of `publisher` in `room`, in a staged run.
    fn stage_of(&self, room: usize, publisher: u32, seq: u64) -> Option<usize> {
        let starts = self.stage_starts[room].get(&publisher)?;
        starts.partition_point(|&s| s <= seq).checked_sub(1)
    }

    /// Messages acknowledged in `room`.
    pub fn in_room(&self, room: usize) -> u64 {
        self.rooms[room].iter().map(|(_, s)| s.len() as u64).sum()
    }
}

/// Coherence counts over all subscribers.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    pub expected: u64,
    pub delivered: u64,
    pub lost: u64,
    pub duplicate: u64,
    pub reordered: u64,
    pub unexpected: u64,
    /// Misses of a transport that drops by design (not `lost`).
    pub dropped_by_design: u64,
    pub recovered: u64,
    /// Count misses as `dropped_by_design` rather than `lost`.
    pub by_design: bool,
    /// Hold each subscriber only to the messages between its first and
    /// last receipt from each publisher: in a staged run clients join and
    /// leave mid-window, and a message published while one was connecting
    /// or leaving is not one it could be sure to get.
    pub span_only: bool,
    /// A staged run: `lost` by the stage the message was published in.
    pub stage_lost: Vec<u64>,
}

impl Tally {
    /// An empty tally for a run of `t`.
    pub fn for_transport(t: protocol::Transport) -> Tally {
        Tally {
            by_design: t.drops_by_design(),
            ..Tally::default()
        }
    }

    /// Add one subscriber of `room`; `own`: the publishers whose messages
    /// this process judges (its own, in a distributed run).
    pub fn add(
        &mut self,
        expected: &Expected,
        room: usize,
        t: &Tracker,
        own: &std::ops::Range<u32>,
    ) {
        let mut hits = 0;
        let mut missed = 0;
        for (publisher, seqs) in &expected.rooms[room] {
            let seen = t.get(*publisher);
            let (lo, hi) = match (self.span_only, seen.and_then(SeqSet::span)) {
                (false, _) => (0, u64::MAX),
                (true, None) => (1, 0),
                (true, Some(span)) => span,
            };
            let held = seqs.iter().filter(|&&s| (lo..=hi).contains(&s));
            let (mut n, mut got) = (0, 0);
            for &s in held {
                n += 1;
                if seen.is_some_and(|seen| seen.contains(s)) {
                    got += 1;
                } else if let Some(i) = expected
                    .stage_of(room, *publisher, s)
                    .filter(|_| !self.by_design)
                {
                    if self.stage_lost.len() <= i {
                        self.stage_lost.resize(i + 1, 0);
                    }
                    self.stage_lost[i] += 1;
                }
            }
            self.expected += n;
            hits += got;
            missed += n - got;
        }
        if self.by_design {
            self.dropped_by_design += missed;
        } else {
            self.lost += missed;
        }
        self.recovered += t.recovered;
        let total = t.total(own);
        self.delivered += total;
        self.unexpected += total - hits;
        self.duplicate += t.duplicate;
        self.reordered += t.reordered;
    }
}

/// A distributed run's receipts: per room, this worker's subscribers and
/// how many of them got each (publisher, seq), for [`WorkerShard`].
#[derive(Debug, Default)]
pub struct Receipts {
    rooms: Vec<(u64, BTreeMap<u32, SeqCounts>)>,
}

/// Subscribers that got each seq of one publisher.
type SeqCounts = BTreeMap<u64, u32>;

impl Receipts {
    pub fn new(rooms: usize) -> Self {
        Receipts {
            rooms: (0..rooms).map(|_| Default::default()).collect(),
        }
    }

    /// Add one subscriber of `room`.
    pub fn add(&mut self, room: usize, t: &Tracker) {
        let (subs, pubs) = &mut self.rooms[room];
        *subs += 1;
        for (p, seen) in t.each() {
            let counts = pubs.entry(p).or_default();
            for seq in seen.iter() {
                *counts.entry(seq).or_default() += 1;
            }
        }
    }

    /// The shard for the result file, with this worker's acknowledged seqs.
    pub fn into_shard(
        self,
        expected: &Expected,
        run: String,
        worker_id: u32,
        workers: u32,
    ) -> WorkerShard {
        let rooms = self
            .rooms
            .into_iter()
            .enumerate()
            .map(|(r, (subscribers, pubs))| RoomShard {
                subscribers,
                acked: expected.rooms[r]
                    .iter()
                    .map(|(p, seqs)| PubRanges {
                        publisher: *p,
                        ranges: ranges(seqs),
                    })
                    .collect(),
                received: pubs
                    .into_iter()
                    .filter_map(|(p, counts)| {
                        let base = *counts.keys().next()?;
                        let last = *counts.keys().next_back()?;
                        let mut v = vec![0u32; (last - base + 1) as usize];
                        for (seq, n) in counts {
                            v[(seq - base) as usize] = n;
                        }
                        Some(PubCounts {
                            publisher: p,
                            base,
                            counts: v,
                        })
                    })
                    .collect(),
            })
            .collect();
        WorkerShard {
            run,
            worker_id,
            workers,
            rooms,
        }
    }
}

/// Sorted seqs as `[start, end)` ranges.
fn ranges(seqs: &[u64]) -> Vec<[u64; 2]> {
    let mut sorted = seqs.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out: Vec<[u64; 2]> = Vec::new();
    for s in sorted {
        match out.last_mut() {
            Some(r) if r[1] == s => r[1] = s + 1,
            _ => out.push([s, s + 1]),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seqset() {
        let mut s = SeqSet::default();
        assert!(s.insert(200));
        assert!(!s.insert(200));
        assert!(s.insert(70));
        assert!(s.insert(1000));
        assert!(s.contains(70) && s.contains(200) && s.contains(1000));
        assert!(!s.contains(71) && !s.contains(0) && !s.contains(5000));
        assert_eq!(s.len(), 3);
    }

    /// A staged client that joined late and left early is held to what
    /// came between its first and last receipt, and a hole there is lost.
    #[test]
    fn span_only_holds_a_client_to_its_own_stretch() {
        let mut exp = Expected::new(1);
        exp.add(0, 0, (0..100).collect());
        exp.add(0, 1, (0..10).collect());
        let mut t = Tracker::default();
        for s in (40..60).filter(|&s| s != 50) {
            t.receive(0, s);
        }
        let mut tally = Tally {
            span_only: true,
            ..Tally::default()
        };
        // Publisher 0's stages start at seqs 0, 45 and 80: seq 50 is stage 1's.
        exp.add_stages(0, 0, vec![0, 45, 80]);
        tally.add(&exp, 0, &t, &(0..2));
        assert_eq!((tally.expected, tally.delivered, tally.lost), (20, 19, 1));
        assert_eq!(tally.unexpected, 0);
        assert_eq!(tally.stage_lost, [0, 1]);
        assert_eq!(SeqSet::default().span(), None);
    }

    #[test]
    fn tally_counts_exactly() {
        let mut exp = Expected::new(2);
        exp.add(0, 0, (10..20).collect());
        exp.add(0, 1, (0..5).collect());
        exp.add(1, 0, (0..3).collect());
        let mut a = Tracker::default();
        for s in 10..20 {
            assert!(a.receive(0, s));
        }
        for s in [0, 2, 1, 3, 4] {
            a.receive(1, s);
        }
        assert!(!a.receive(1, 4)); // duplicate
        let mut b = Tracker::default();
        for s in (10..20).filter(|&s| s != 13) {
            b.receive(0, s);
        }
        b.receive(0, 99); // never acknowledged
        let mut t = Tally::default();
        t.add(&exp, 0, &a, &(0..2));
        t.add(&exp, 0, &b, &(0..2));
        assert_eq!(
            t,
            Tally {
                expected: 30,
                delivered: 25,
                lost: 6,
                duplicate: 1,
                reordered: 1,
                unexpected: 1,
                ..Tally::default()
            }
        );
    }

    /// A datagram run's misses are dropped by design, and fetched ones
    /// count as recovered deliveries.
    #[test]
    fn datagram_misses_are_dropped_by_design() {
        let mut exp = Expected::new(1);
        exp.add(0, 0, (0..10).collect());
        let mut a = Tracker::default();
        for s in [0, 1, 2, 5, 6] {
            a.receive(0, s);
        }
        a.recovering = true;
        a.receive(0, 3);
        assert!(!a.receive(0, 3));
        let mut t = Tally::for_transport(protocol::Transport::WebTransportDatagram);
        t.add(&exp, 0, &a, &(0..1));
        assert_eq!(
            (t.delivered, t.lost, t.dropped_by_design, t.recovered),
            (6, 0, 4, 1)
        );
    }
}
