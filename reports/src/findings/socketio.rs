//! What Socket.IO costs over a raw WebSocket, the question its users ask:
//! bytes per delivery, server CPU per delivery and memory per connection,
//! each against the WebSocket entry of the same group.

use super::{info, name};
use crate::Finding;
use crate::merge::{Entry, Group};
use crate::metric::{self, Metric};

/// The costs compared, as a sentence names them.
const COSTS: [(&Metric, &str); 3] = [
    (&metric::BYTES_PER_DELIVERY, "on the wire per delivery"),
    (
        &metric::SERVER_CPU_PER_1K,
        "server CPU per 1,000 deliveries",
    ),
    (
        &metric::SERVER_RSS_PER_CONNECTION,
        "server memory per connection",
    ),
];

/// One sentence per Socket.IO entry, when the group also ran WebSockets.
pub(crate) fn socketio_findings(g: &Group) -> Vec<Finding> {
    let Some(ws) = g
        .entries
        .iter()
        .find(|e| e.transport == protocol::Transport::Ws)
    else {
        return Vec::new();
    };
    g.entries
        .iter()
        .filter(|e| e.transport.is_socketio())
        .filter_map(|e| overhead(e, ws))
        .collect()
}

fn overhead(sio: &Entry, ws: &Entry) -> Option<Finding> {
    let parts = super::against_websocket(sio, ws, &COSTS);
    (!parts.is_empty()).then(|| {
        info(format!(
            "{} against raw WebSocket: {}.",
            super::capitalize(&name(sio)),
            parts.join("; ")
        ))
    })
}
