//! The Socket.IO side of a session: CONNECT, the events a client sends
//! (`message`, `typing`, `join`, `leave`) and its room subscription.

use super::store::Out;
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::hub::{Delivery, Draft, PresenceGuard, Room, Start};
use crate::limits::keyed::refused;
use crate::limits::{Bucket, ClientIp, Key};
use crate::metrics::Label;
use crate::transport::{parse_cursor, validate_user};
use protocol::socketio::{Namespace, SioPacket, event_message};
use protocol::{ErrorBody, Kind, PublishRequest};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use tokio::sync::broadcast::Receiver;

/// A room the socket is in: its feed and its place in the user list.
pub(super) struct Sub {
    pub room: Arc<Room>,
    pub rx: Receiver<Arc<Delivery>>,
    pub last_id: u64,
    _presence: Option<PresenceGuard>,
}

/// After a client packet: go on, or end the session.
pub(super) enum Flow {
    Go,
    End,
}

/// The client's socket in the main namespace.
pub(super) struct Client {
    pub app: AppState,
    pub auth: Auth,
    /// Auth is on and the handshake had no token: CONNECT must bring one.
    pub token_pending: bool,
    pub user: Option<String>,
    pub connected: bool,
    /// The handshake's room and start, subscribed at CONNECT.
    pub pending: Option<(Arc<Room>, Start)>,
    pub sub: Option<Sub>,
    pub bucket: Option<Bucket>,
    /// The handshake's client address, for `--publish-rate-limit-per-ip`.
    pub ip: ClientIp,
}

/// CONNECT's auth payload.
#[derive(Deserialize, Default)]
struct ConnectAuth {
    token: Option<String>,
    user: Option<String>,
}

#[derive(Deserialize)]
struct Join {
    room: String,
    since: Option<serde_json::Value>,
    history: Option<usize>,
}

#[derive(Deserialize, Default)]
struct Typing {
    user: Option<String>,
}

fn json<T: serde::Serialize>(v: &T) -> String {
    // Serializing plain strings and numbers cannot fail.
    serde_json::to_string(v).unwrap_or_default()
}

/// `42["<event>",<payload>]`.
pub(super) fn event(name: &str, payload: &str) -> Out {
    Out::Packet(event_message(Namespace::ROOT, name, payload))
}

fn error_body(e: &ApiError) -> String {
    json(&e.body())
}

/// `43<id>[<payload>]`, or the `error` event when no ack was asked for.
fn answer(id: Option<u64>, payload: String) -> Out {
    match id {
        Some(id) => Out::Packet(format!("43{id}[{payload}]")),
        None => event("error", &payload),
    }
}

/// An ack when asked for; errors without one become the `error` event.
fn reply(id: Option<u64>, r: Result<String, ApiError>) -> Vec<Out> {
    match (r, id) {
        (Ok(p), Some(id)) => vec![Out::Packet(format!("43{id}[{p}]"))],
        (Ok(_), None) => Vec::new(),
        (Err(e), id) => vec![answer(id, error_body(&e))],
    }
}

/// `44{"message":…,"data":{"error":…,"code":…}}`.
fn connect_error(e: &ApiError) -> Out {
    let body = e.body();
    Out::Packet(format!(
        "44{{\"message\":{},\"data\":{}}}",
        json(&body.error),
        json(&body)
    ))
}

impl Client {
    /// One Socket.IO packet from the client; `Err` for a malformed one.
    pub(super) async fn on_packet(
        &mut self,
        text: &str,
        out: &mut Vec<Out>,
    ) -> Result<Flow, protocol::socketio::PacketError> {
        let packet = SioPacket::decode(text)?;
        if !packet.namespace().is_root() {
            let nsp = packet.namespace().as_str();
            out.push(Out::Packet(format!(
                "44{nsp},{{\"message\":\"Invalid namespace\"}}"
            )));
            return Ok(Flow::Go);
        }
        match packet {
            SioPacket::Connect { data, .. } => out.extend(self.connect(data).await),
            SioPacket::Disconnect { .. } => return Ok(Flow::End),
            SioPacket::Event {
                id, event, args, ..
            } if self.connected => out.extend(self.event(id, &event, &args).await),
            // Events before CONNECT and acks (the server asks for none).
            SioPacket::Event { .. } | SioPacket::Ack { .. } => {}
            SioPacket::ConnectError { .. } => {
                return Err(protocol::socketio::PacketError::UnknownType('4'));
            }
        }
        Ok(Flow::Go)
    }

    /// CONNECT: the token and user checks, then `40{"sid"}` and the
    /// handshake room's backlog; a refusal is `44`.
    async fn connect(&mut self, data: Option<&RawValue>) -> Vec<Out> {
        let auth: ConnectAuth = match data.map(|d| serde_json::from_str(d.get())) {
            None => ConnectAuth::default(),
            Some(Ok(a)) => a,
            Some(Err(e)) => return vec![connect_error(&ApiError::BadJson(e.to_string()))],
        };
        if let Err(e) = self.admit(auth) {
            return vec![connect_error(&e)];
        }
        let Some(sid) = super::store::random_id() else {
            return vec![connect_error(&ApiError::TooBusy("no randomness".into()))];
        };
        self.connected = true;
        let mut out = vec![Out::Packet(format!("40{{\"sid\":\"{sid}\"}}"))];
        if let Some((room, start)) = self.pending.take() {
            out.extend(self.subscribe(room, start).await);
        }
        out
    }

    /// The CONNECT token (when the handshake had none) and user.
    fn admit(&mut self, a: ConnectAuth) -> Result<(), ApiError> {
        if self.token_pending {
            let secret = self.app.config.auth_secret.as_deref().unwrap_or_default();
            let token = a.token.as_deref().unwrap_or_default();
            match crate::auth::verify_token(secret, token) {
                Ok(sub) => {
                    self.auth = Auth(Some(sub.into()));
                    self.token_pending = false;
                }
                Err(e) => {
                    self.app.limit_metrics.auth_failures.fetch_add(1, Relaxed);
                    return Err(ApiError::Unauthorized(e.to_string()));
                }
            }
        }
        if let Some(u) = a.user {
            validate_user(&u)?;
            self.user = Some(u);
        }
        if let Some(u) = &self.user {
            self.auth.check_user(u)?;
        }
        Ok(())
    }

    /// Joins `room` from `start` (leaving any other): the gap notice and
    /// backlog to send.
    async fn subscribe(&mut self, room: Arc<Room>, start: Start) -> Vec<Out> {
        self.sub = None;
        let presence = self.user.as_deref().map(|u| room.join(u));
        let mut feed = room.subscribe(start);
        room.backfill(&mut feed.backlog, start).await;
        let mut out = Vec::with_capacity(feed.backlog.messages.len() + 1);
        if feed.backlog.gap
            && let Start::Since(since) = start
        {
            out.push(event("gap", &format!("{{\"cursor\":\"{since}\"}}")));
        }
        out.extend(feed.backlog.messages.drain(..).map(Out::Message));
        self.sub = Some(Sub {
            room,
            rx: feed.rx,
            last_id: feed.backlog.cursor,
            _presence: presence,
        });
        out
    }

    async fn event(&mut self, id: Option<u64>, name: &str, args: &[&RawValue]) -> Vec<Out> {
        let arg = args.first().map_or("{}", |a| a.get());
        match name {
            "message" => reply(id, self.publish(arg).await),
            "typing" => reply(id, self.typing(arg).await),
            "join" => self.join(id, arg).await,
            "leave" => {
                self.sub = None;
                reply(id, Ok("{}".into()))
            }
            other => {
                let e = ErrorBody {
                    error: format!(
                        "unknown event {other:?}: expected message, typing, join or leave"
                    ),
                    code: "bad_event".into(),
                };
                vec![answer(id, json(&e))]
            }
        }
    }

    fn room(&self) -> Result<&Arc<Room>, ApiError> {
        self.sub.as_ref().map(|s| &s.room).ok_or_else(|| {
            ApiError::BadQuery("not in a room: connect with ?room= or send join first".into())
        })
    }

    /// The publish limits of this session, as on a WebSocket: its own
    /// bucket, then its address's and its user's.
    fn rate_limit(&mut self) -> Result<(), ApiError> {
        let metrics = &self.app.limit_metrics;
        if let (Some(limit), Some(bucket)) = (&self.app.config.publish_rate_limit, &mut self.bucket)
        {
            bucket
                .take(limit)
                .map_err(|wait| refused(metrics, limit, Key::Connection, wait))?;
        }
        self.app
            .publishers
            .check(metrics, self.ip.0, self.auth.0.as_ref())
    }

    async fn publish(&mut self, arg: &str) -> Result<String, ApiError> {
        let p: PublishRequest =
            serde_json::from_str(arg).map_err(|e| ApiError::BadJson(e.to_string()))?;
        if arg.len() > self.app.config.max_message_bytes {
            return Err(ApiError::TooLarge {
                limit: self.app.config.max_message_bytes,
            });
        }
        validate_user(&p.user).and_then(|()| self.auth.check_user(&p.user))?;
        self.rate_limit()?;
        let room = self.room()?.clone();
        self.app.metrics.label(Label::Publish).requests.add(1);
        let (id, ts_us) = room.publish_request(&p).await?;
        Ok(json(&protocol::PublishResponse {
            id: id.to_string(),
            ts_us,
        }))
    }

    async fn typing(&mut self, arg: &str) -> Result<String, ApiError> {
        let t: Typing = serde_json::from_str(arg).map_err(|e| ApiError::BadJson(e.to_string()))?;
        let user = t.user.or_else(|| self.user.clone()).ok_or_else(|| {
            ApiError::BadUser(
                "typing needs a user: connect with ?user=NAME or send {\"user\":NAME}".into(),
            )
        })?;
        validate_user(&user).and_then(|()| self.auth.check_user(&user))?;
        self.rate_limit()?;
        let room = self.room()?.clone();
        let draft = Draft {
            user: Some(&user),
            ..Draft::default()
        };
        room.publish_async(Kind::Typing, draft).await?;
        Ok("{}".into())
    }

    /// `join`: the ack `{room,cursor}` first, then the backlog.
    async fn join(&mut self, id: Option<u64>, arg: &str) -> Vec<Out> {
        let start = match self.join_target(arg) {
            Ok(s) => s,
            Err(e) => return reply(id, Err(e)),
        };
        let (name, start) = start;
        let room = self.app.hub.room(&name);
        if let Err(e) = room.ready().await {
            return reply(id, Err(e));
        }
        let backlog = self.subscribe(room, start).await;
        let cursor = self.sub.as_ref().map_or(0, |s| s.last_id);
        let ack = format!("{{\"room\":{},\"cursor\":\"{cursor}\"}}", json(&name));
        let mut out = reply(id, Ok(ack));
        out.extend(backlog);
        out
    }

    fn join_target(&self, arg: &str) -> Result<(String, Start), ApiError> {
        let j: Join = serde_json::from_str(arg).map_err(|e| ApiError::BadJson(e.to_string()))?;
        protocol::validate_room(&j.room)?;
        let cfg = &self.app.config;
        let start = match (j.since, j.history) {
            (Some(serde_json::Value::String(s)), _) => Start::Since(parse_cursor(&s)?),
            (Some(serde_json::Value::Number(n)), _) => Start::Since(parse_cursor(&n.to_string())?),
            (Some(other), _) => return Err(ApiError::BadCursor(other.to_string())),
            (None, Some(h)) => Start::Recent(h.min(cfg.history)),
            (None, None) => Start::Recent(cfg.join_history),
        };
        Ok((j.room, start))
    }
}
