//! WebSocket: one socket per client (`GET …/ws?since=ID`), tokio-tungstenite
//! over the counting stream with small buffers, resumed with `since` after a
//! drop or a lag close (4000).

use super::{Client, End, IDLE_TIMEOUT, REQUEST_TIMEOUT, bounded};
use crate::error::{ClientError, ErrorKind};
use crate::wire::MsgRef;
use futures_util::StreamExt;
use protocol::message::{LagNotice, WS_CLOSE_LAGGED};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Small buffers: tungstenite's defaults cost ~138 KiB per idle client
/// (DESIGN.md); a 4 KiB read buffer and no write buffering keep it near
/// 10 KiB. Messages larger than the buffer still work (it grows per read).
pub fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
}

pub async fn session(c: &mut Client) -> Result<End, ClientError> {
    let started = Instant::now();
    let cancel = c.cancel().clone();
    let url = format!(
        "ws://{}{}?{}",
        c.shared.authority,
        protocol::paths::ws(c.room_name()),
        c.subscribe_query()
    );
    let Some(mut ws) = bounded(
        &cancel,
        REQUEST_TIMEOUT,
        "WebSocket connect timed out",
        async {
            let _permit = c.dialer().permit().await;
            let stream = c.dial().await?;
            let (ws, _resp) =
                tokio_tungstenite::client_async_with_config(url.as_str(), stream, Some(config()))
                    .await
                    .map_err(|e| ClientError::from_ws(&e))?;
            Ok(ws)
        },
    )
    .await?
    else {
        return Ok(End::Cancelled);
    };
    c.connected(started);
    c.request(false);
    loop {
        let next = tokio::select! {
            _ = cancel.cancelled() => {
                // Close politely (bounded) so the server sees a clean end.
                let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
                return Ok(End::Cancelled);
            }
            m = tokio::time::timeout(IDLE_TIMEOUT, ws.next()) => m,
        };
        let msg = match next {
            Err(_) => {
                return Err(ClientError::new(
                    ErrorKind::Timeout,
                    "WebSocket went silent",
                ));
            }
            Ok(None) => {
                return Err(ClientError::new(
                    ErrorKind::UnexpectedClose,
                    "WebSocket ended",
                ));
            }
            Ok(Some(Err(e))) => return Err(ClientError::from_ws(&e)),
            Ok(Some(Ok(m))) => m,
        };
        match msg {
            Message::Text(text) => {
                let now_us = c.shared.rec.clock.now_us();
                match serde_json::from_str::<MsgRef<'_>>(text.as_str()) {
                    Ok(m) if m.frame_type.as_deref() == Some("gap") => c.gap(),
                    Ok(m) if m.frame_type.as_deref() == Some("error") => {
                        c.shared.rec.error(&ClientError::new(
                            ErrorKind::Protocol,
                            format!("server error frame: {}", text.as_str()),
                        ));
                    }
                    Ok(m) => c.receive(now_us, [&m]),
                    Err(e) => c.shared.rec.error(&ClientError::new(
                        ErrorKind::Protocol,
                        format!("WebSocket frame is not a message: {e}"),
                    )),
                }
            }
            Message::Binary(_) => c.shared.rec.error(&ClientError::new(
                ErrorKind::Protocol,
                "unexpected binary WebSocket frame",
            )),
            Message::Close(frame) => {
                let code = frame.as_ref().map(|f| u16::from(f.code));
                if code == Some(WS_CLOSE_LAGGED) {
                    let notice = frame
                        .as_ref()
                        .and_then(|f| serde_json::from_str::<LagNotice>(f.reason.as_str()).ok());
                    c.lagged(notice.as_ref().map(|n| n.cursor.as_str()));
                    return Ok(End::Lagged);
                }
                return Err(ClientError::new(
                    ErrorKind::UnexpectedClose,
                    format!("server closed the WebSocket ({code:?})"),
                ));
            }
            // Pings are answered by tungstenite on the next read.
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
    }
}
