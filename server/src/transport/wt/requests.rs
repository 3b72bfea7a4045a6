//! Requests on client-opened bidirectional streams: newline-delimited
//! [`Request`]s, each answered in order on the same stream. A publish is
//! checked as an HTTP publish is (size, rate, the token's user).

use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::hub::{Draft, Room, Start};
use crate::metrics::Label;
use crate::net::Conn;
use crate::transport::{parse_cursor, poll_json, validate_user};
use protocol::webtransport::{FRAME_END, Reply, Request};
use protocol::{ErrorBody, Kind, PublishRequest, PublishResponse, Transport};
use std::sync::Arc;
use wtransport::{RecvStream, SendStream, VarInt};

/// What a request line adds to a publish body (`"type":"message",`):
/// a line may be this much longer than `--max-message-bytes`.
const MESSAGE_TYPE_TAG: usize = r#""type":"message","#.len();

/// A line may exceed `--max-message-bytes` by this before its stream ends.
const LINE_SLACK: usize = 1024;

/// Read size of a request stream.
const READ_CHUNK: usize = 4096;

/// The session a request stream belongs to.
pub(super) struct Ctx {
    pub app: AppState,
    pub room: Arc<Room>,
    /// `?user=` of the session: typing without a user names this one.
    pub user: Option<String>,
    pub auth: Auth,
    pub transport: Transport,
    /// The session's meter: its publish-rate bucket.
    pub conn: Conn,
    /// The session's client address, for `--publish-rate-limit-per-ip`.
    pub ip: crate::limits::ClientIp,
}

/// Serves one request stream until the client finishes it or breaks it.
pub(super) async fn serve(ctx: Arc<Ctx>, mut send: SendStream, mut recv: RecvStream) {
    let max_line = ctx.app.config.max_message_bytes + LINE_SLACK;
    let mut buf: Vec<u8> = Vec::new();
    let mut scanned = 0;
    let mut chunk = vec![0u8; READ_CHUNK];
    loop {
        while let Some(at) = buf[scanned..].iter().position(|&b| b == FRAME_END) {
            let end = scanned + at;
            let reply = ctx.handle(&buf[..end]).await;
            buf.drain(..=end);
            scanned = 0;
            if let Some(r) = reply
                && send.write_all(&r).await.is_err()
            {
                return;
            }
        }
        scanned = buf.len();
        if buf.len() > max_line {
            ctx.app.metrics.protocol_error(ctx.transport);
            let e = ApiError::TooLarge { limit: max_line };
            let _ = send.write_all(&reply(&Reply::Error(e.body()))).await;
            let _ = tokio::time::timeout(ctx.app.config.heartbeat, send.finish()).await;
            recv.stop(VarInt::from_u32(0));
            return;
        }
        match recv.read(&mut chunk).await {
            Ok(Some(n)) => buf.extend_from_slice(&chunk[..n]),
            Ok(None) => {
                // The last line may lack its newline.
                if let Some(r) = ctx.handle(&buf).await {
                    let _ = send.write_all(&r).await;
                }
                let _ = send.finish().await;
                return;
            }
            Err(_) => return,
        }
    }
}

/// A reply line.
fn reply(r: &Reply) -> Vec<u8> {
    // Serializing plain strings cannot fail.
    let mut v = serde_json::to_vec(r).unwrap_or_default();
    v.push(FRAME_END);
    v
}

fn error(e: &ApiError) -> Vec<u8> {
    reply(&Reply::Error(e.body()))
}

impl Ctx {
    /// One request line; its answer, if it has one.
    async fn handle(&self, line: &[u8]) -> Option<Vec<u8>> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        let request: Request = match serde_json::from_slice(line) {
            Ok(r) => r,
            Err(e) => {
                self.app.metrics.protocol_error(self.transport);
                return Some(reply(&Reply::Error(ErrorBody {
                    error: format!(
                        "invalid request: {e}; expected one JSON object per line with \"type\": message, typing or fetch"
                    ),
                    code: "bad_json".into(),
                })));
            }
        };
        match request {
            Request::Message(p) => Some(match self.publish(&p, line.len()).await {
                Ok(ack) => reply(&Reply::Ack(ack)),
                Err(e) => error(&e),
            }),
            Request::Typing { user } => self.typing(user.as_deref()).await.err().map(|e| error(&e)),
            Request::Fetch { since, limit } => Some(match self.fetch(&since, limit).await {
                Ok(json) => json,
                Err(e) => error(&e),
            }),
        }
    }

    async fn publish(&self, p: &PublishRequest, len: usize) -> Result<PublishResponse, ApiError> {
        let limit = self.app.config.max_message_bytes;
        if len.saturating_sub(MESSAGE_TYPE_TAG) > limit {
            return Err(ApiError::TooLarge { limit });
        }
        crate::publish::rate_limit(&self.app, &self.conn, self.ip, &self.auth)?;
        validate_user(&p.user)?;
        self.auth.check_user(&p.user)?;
        self.app.metrics.label(Label::Publish).requests.add(1);
        let (id, ts_us) = self.room.publish_request(p).await?;
        Ok(PublishResponse {
            id: id.to_string(),
            ts_us,
        })
    }

    async fn typing(&self, user: Option<&str>) -> Result<(), ApiError> {
        let Some(u) = user.or(self.user.as_deref()) else {
            return Err(ApiError::BadUser(
                "typing needs a user: open the session with ?user=NAME or send {\"type\":\"typing\",\"user\":NAME}".into(),
            ));
        };
        crate::publish::rate_limit(&self.app, &self.conn, self.ip, &self.auth)?;
        validate_user(u)?;
        self.auth.check_user(u)?;
        let typing = Draft {
            user: Some(u),
            ..Draft::default()
        };
        self.room
            .publish_async(Kind::Typing, typing)
            .await
            .map(|_| ())
    }

    /// `{"type":"messages",…}`: the messages after `since`, at most
    /// `limit`, built from their JSON as it is.
    async fn fetch(&self, since: &str, limit: Option<usize>) -> Result<Vec<u8>, ApiError> {
        let since = parse_cursor(since)?;
        let start = Start::Since(since);
        let mut b = self.room.read(start);
        self.room.backfill(&mut b, start).await;
        if let Some(limit) = limit
            && b.messages.len() > limit
        {
            b.messages.truncate(limit);
            b.cursor = b.messages.last().map_or(since, |d| d.id);
        }
        self.app
            .metrics
            .delivered(self.transport, b.messages.len() as u64);
        let mut json = poll_json(&b, br#"{"type":"messages","#);
        json.push(FRAME_END);
        Ok(json)
    }
}
