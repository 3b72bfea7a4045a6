//! A session's server side: the unidirectional stream (backlog, notices,
//! messages as newline-delimited JSON), datagrams in datagram mode, the
//! client's request streams, wire-byte sampling, and how it ends.

use super::{Wt, requests};
use crate::AppState;
use crate::hub::{Backlog, Delivery, Start};
use crate::metrics::Datagram;
use crate::net::ConnMeter;
use crate::transport::{MAX_BATCH, Queued, Subscription, next_queued};
use protocol::webtransport::{CLOSE_GOING_AWAY, CLOSE_LAGGED, FRAME_END, Mode, Notice};
use protocol::{GapNotice, LagNotice, Transport};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;
use wtransport::{Connection, SendStream, VarInt};

/// How often a session's UDP byte counts are moved into the metrics.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// Session close code of a client that stopped reading its stream.
const CLOSE_STALLED: u32 = 0;

/// UDP bytes of a connection already charged to its meter.
#[derive(Default)]
pub(super) struct Wire {
    rx: u64,
    tx: u64,
}

impl Wire {
    /// Charges the bytes QUIC moved since the last sample.
    pub fn sample(&mut self, conn: &Connection, meter: &ConnMeter) {
        let s = conn.quic_connection().stats();
        meter.add(s.udp_rx.bytes.saturating_sub(self.rx), false);
        meter.add(s.udp_tx.bytes.saturating_sub(self.tx), true);
        self.rx = self.rx.max(s.udp_rx.bytes);
        self.tx = self.tx.max(s.udp_tx.bytes);
    }
}

/// Counts the session in `rtbench_server_webtransport_sessions` while it lives.
struct Open<'a>(&'a crate::metrics::Metrics);

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.0.webtransport_sessions.fetch_sub(1, Relaxed);
    }
}

/// Why writing to the stream failed.
enum Failed {
    /// The peer or the connection went away.
    Gone,
    /// No progress for two heartbeats: the client stopped reading.
    Stalled,
}

/// The server's unidirectional stream and, in datagram mode, the datagrams.
struct Out<'a> {
    app: &'a AppState,
    conn: &'a Connection,
    stream: SendStream,
    mode: Mode,
    transport: Transport,
}

/// How a session ends: a close code and reason to send, or nothing (the
/// peer is gone).
type End = Option<(u32, String)>;

pub(super) async fn run(sub: Subscription<Wt>, conn: Connection, meter: Arc<ConnMeter>) {
    let metrics = sub.app.metrics.clone();
    metrics.webtransport_sessions.fetch_add(1, Relaxed);
    let _open = Open(&metrics);
    let mut wire = Wire::default();
    let end = serve(&sub, &conn, &meter, &mut wire).await;
    if let Some((code, reason)) = end {
        conn.close(VarInt::from_u32(code), reason.as_bytes());
    }
    // The close goes out at once; bounded for a peer that vanished.
    let _ = tokio::time::timeout(Duration::from_secs(1), conn.closed()).await;
    wire.sample(&conn, &meter);
}

async fn serve(
    sub: &Subscription<Wt>,
    conn: &Connection,
    meter: &Arc<ConnMeter>,
    wire: &mut Wire,
) -> End {
    let (app, room, params) = (&sub.app, &sub.room, &sub.params);
    let _presence = params.user.as_deref().map(|u| room.join(u));
    let stream = match conn.open_uni().await {
        Ok(opening) => opening.await.ok()?,
        Err(_) => return None,
    };
    let mut out = Out {
        app,
        conn,
        stream,
        mode: sub.admit,
        transport: sub.transport,
    };
    let mut feed = room.subscribe(params.start);
    room.backfill(&mut feed.backlog, params.start).await;
    if let Err(f) = out.backlog(&feed.backlog, params.start).await {
        return out.failed(f);
    }
    let ctx = Arc::new(requests::Ctx {
        app: app.clone(),
        room: room.clone(),
        user: params.user.clone(),
        auth: sub.auth.clone(),
        transport: sub.transport,
        conn: crate::net::Conn(Some(meter.clone())),
        ip: crate::limits::ClientIp(meter.peer()),
    });
    let last_id = feed.backlog.cursor;
    live(&mut out, &mut feed.rx, last_id, ctx, meter, wire).await
}

/// Live messages out and client requests in, until either side ends or
/// the server shuts down.
async fn live(
    out: &mut Out<'_>,
    rx: &mut Receiver<Arc<Delivery>>,
    mut last_id: u64,
    ctx: Arc<requests::Ctx>,
    meter: &ConnMeter,
    wire: &mut Wire,
) -> End {
    let conn = out.conn;
    let mut requests = tokio::task::JoinSet::new();
    let mut sample = tokio::time::interval(SAMPLE_EVERY);
    // A child token: see ws.rs (a shared node is a contended lock).
    let shutdown = out.app.shutdown.child_token();
    let shutting_down = shutdown.cancelled();
    tokio::pin!(shutting_down);
    loop {
        tokio::select! {
            biased;
            _ = &mut shutting_down => return Some((CLOSE_GOING_AWAY, "server shutting down".into())),
            r = rx.recv() => match r {
                Ok(d) => match out.batch(rx, d, &mut last_id).await {
                    Ok(false) => {}
                    Ok(true) => return out.lagged(last_id).await,
                    Err(f) => return out.failed(f),
                },
                Err(RecvError::Lagged(_)) => return out.lagged(last_id).await,
                Err(RecvError::Closed) => return Some((CLOSE_GOING_AWAY, "room closed".into())),
            },
            bi = conn.accept_bi() => match bi {
                Ok((send, recv)) => {
                    requests.spawn(requests::serve(ctx.clone(), send, recv));
                }
                Err(_) => return None,
            },
            Some(_) = requests.join_next(), if !requests.is_empty() => {}
            _ = sample.tick() => wire.sample(conn, meter),
        }
    }
}

impl Out<'_> {
    /// Writes `buf`, failing after two heartbeats without progress (QUIC
    /// flow control holds a writer whose client stopped reading).
    async fn write(&mut self, buf: &[u8]) -> Result<(), Failed> {
        let stall = self.app.config.heartbeat * 2;
        let mut at = 0;
        while at < buf.len() {
            match tokio::time::timeout(stall, self.stream.write(&buf[at..])).await {
                Ok(Ok(n)) => at += n,
                Ok(Err(_)) => return Err(Failed::Gone),
                Err(_) => return Err(Failed::Stalled),
            }
        }
        Ok(())
    }

    /// The gap notice (a cursor older than the history) and the backlog.
    async fn backlog(&mut self, b: &Backlog, start: Start) -> Result<(), Failed> {
        let mut buf = Vec::new();
        if b.gap
            && let Start::Since(since) = start
        {
            let gap = Notice::Gap(GapNotice {
                cursor: since.to_string(),
            });
            line(
                &mut buf,
                serde_json::to_string(&gap).unwrap_or_default().as_bytes(),
            );
        }
        for d in &b.messages {
            line(&mut buf, d.json.as_bytes());
        }
        if !buf.is_empty() {
            self.write(&buf).await?;
        }
        self.app
            .metrics
            .delivered(self.transport, b.messages.len() as u64);
        Ok(())
    }

    /// `d` and whatever else is queued, in one write; `true` when the queue
    /// overflowed meanwhile.
    async fn batch(
        &mut self,
        rx: &mut Receiver<Arc<Delivery>>,
        d: Arc<Delivery>,
        last_id: &mut u64,
    ) -> Result<bool, Failed> {
        let mut buf = Vec::new();
        let mut n = 0;
        let mut next = Some(d);
        let mut lagged = false;
        while let Some(d) = next.take() {
            if d.id > *last_id {
                if !self.datagram(&d) {
                    line(&mut buf, d.json.as_bytes());
                }
                *last_id = d.id;
                n += 1;
            }
            if n < MAX_BATCH {
                match next_queued(rx, *last_id) {
                    Queued::Message(more) => next = Some(more),
                    Queued::Lagged => lagged = true,
                    Queued::Empty => {}
                }
            }
        }
        if !buf.is_empty() {
            self.write(&buf).await?;
        }
        self.app.metrics.delivered(self.transport, n as u64);
        Ok(lagged)
    }

    /// In datagram mode, `d` as one datagram; `false` when it must go on
    /// the stream instead (stream mode, or too large for a datagram).
    fn datagram(&self, d: &Delivery) -> bool {
        if self.mode != Mode::Datagram {
            return false;
        }
        let metrics = &self.app.metrics;
        let payload = d.json.as_bytes();
        if self
            .conn
            .max_datagram_size()
            .is_none_or(|max| payload.len() > max)
        {
            metrics.datagram(Datagram::TooLarge);
            return false;
        }
        // A full send buffer makes room by dropping its oldest datagram.
        let full = self.conn.quic_connection().datagram_send_buffer_space() < payload.len() + 8;
        match self.conn.send_datagram(payload) {
            Ok(()) if full => {
                metrics.datagram(Datagram::Dropped);
                metrics.datagram(Datagram::Sent);
            }
            Ok(()) => metrics.datagram(Datagram::Sent),
            Err(wtransport::error::SendDatagramError::TooLarge) => {
                metrics.datagram(Datagram::TooLarge);
                return false;
            }
            Err(_) => metrics.datagram(Datagram::Dropped),
        }
        true
    }

    /// The lag notice on the stream (delivered before the close, within a
    /// heartbeat), then close 4000 with the cursor.
    async fn lagged(&mut self, last_id: u64) -> End {
        self.app.metrics.lagged.fetch_add(1, Relaxed);
        let notice = LagNotice {
            cursor: last_id.to_string(),
        };
        let reason = serde_json::to_string(&notice).unwrap_or_default();
        let mut buf = Vec::new();
        let lag = Notice::Lagged(notice);
        line(
            &mut buf,
            serde_json::to_string(&lag).unwrap_or_default().as_bytes(),
        );
        if self.write(&buf).await.is_ok() {
            let hb = self.app.config.heartbeat;
            let _ = tokio::time::timeout(hb, self.stream.finish()).await;
        }
        Some((CLOSE_LAGGED, reason))
    }

    fn failed(&self, f: Failed) -> End {
        match f {
            Failed::Gone => None,
            Failed::Stalled => {
                self.app.limit_metrics.stalled.fetch_add(1, Relaxed);
                Some((CLOSE_STALLED, "the client stopped reading".into()))
            }
        }
    }
}

/// `json` and the frame end.
fn line(buf: &mut Vec<u8>, json: &[u8]) {
    buf.extend_from_slice(json);
    buf.push(FRAME_END);
}
