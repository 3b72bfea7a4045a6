//! Datagram catch-up: fetch the messages behind holes in the room's ids on
//! a bidirectional stream of the session (rtbench's `fetch` request), and
//! record the ones still missing as late, recovered deliveries.

use super::frames::Frames;
use crate::error::{ClientError, ErrorKind};
use crate::profile::Framing;
use crate::transport::{Client, REQUEST_TIMEOUT, Shared};
use protocol::webtransport::Request;
use serde::Deserialize;
use std::borrow::Cow;

/// The catch-up stream: requests out, one answer line back per request.
pub struct FetchStream {
    send: wtransport::SendStream,
    recv: wtransport::RecvStream,
    frames: Frames,
}

impl FetchStream {
    pub async fn open(conn: &wtransport::Connection) -> Result<FetchStream, ClientError> {
        let opening = async {
            let (send, recv) = conn
                .open_bi()
                .await
                .map_err(|e| super::closed_error(&e, true))?
                .await
                .map_err(|e| stream_error(&e))?;
            Ok(FetchStream {
                send,
                recv,
                frames: Frames::new(Framing::Newline),
            })
        };
        timed(opening).await
    }

    /// Ask for the messages `due` (ascending ids) and return the answer line.
    pub async fn fetch(&mut self, due: &[u64]) -> Result<Vec<u8>, ClientError> {
        let (Some(first), Some(last)) = (due.first(), due.last()) else {
            return Ok(Vec::new());
        };
        let req = Request::Fetch {
            since: first.saturating_sub(1).to_string(),
            limit: Some((last - first + 1) as usize),
        };
        let mut line = serde_json::to_vec(&req)
            .map_err(|e| ClientError::new(ErrorKind::Protocol, e.to_string()))?;
        line.push(protocol::webtransport::FRAME_END);
        timed(async {
            self.send
                .write_all(&line)
                .await
                .map_err(|e| stream_error(&e))?;
            loop {
                if let Some(f) = self
                    .frames
                    .next_frame()
                    .map_err(|e| ClientError::new(ErrorKind::Protocol, e.to_string()))?
                {
                    return Ok(f.to_vec());
                }
                match self.recv.read(self.frames.spare()).await {
                    Ok(Some(n)) => self.frames.filled(n),
                    Ok(None) => {
                        return Err(ClientError::new(
                            ErrorKind::UnexpectedClose,
                            "the server ended the fetch stream",
                        ));
                    }
                    Err(e) => return Err(stream_error(&e)),
                }
            }
        })
        .await
    }
}

async fn timed<T>(f: impl Future<Output = Result<T, ClientError>>) -> Result<T, ClientError> {
    tokio::time::timeout(REQUEST_TIMEOUT, f)
        .await
        .unwrap_or_else(|_| {
            Err(ClientError::new(
                ErrorKind::Timeout,
                "no answer to a WebTransport fetch",
            ))
        })
}

fn stream_error(e: &impl std::fmt::Display) -> ClientError {
    ClientError::new(
        ErrorKind::UnexpectedClose,
        format!("WebTransport stream: {e}"),
    )
}

#[derive(Deserialize)]
struct Answer<'a> {
    #[serde(rename = "type")]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    messages: Vec<&'a serde_json::value::RawValue>,
}

#[derive(Deserialize)]
struct Id<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
}

/// Record the fetched messages that were `due` (still missing), as
/// recovered; the cursors stay where the live datagrams put them.
pub fn take_fetched(
    c: &mut Client,
    shared: &Shared,
    reply: &[u8],
    due: &[u64],
) -> Result<(), ClientError> {
    let answer: Answer = serde_json::from_slice(reply)
        .map_err(|e| ClientError::new(ErrorKind::Protocol, format!("fetch answer: {e}")))?;
    if answer.kind != "messages" {
        return Err(ClientError::new(
            ErrorKind::Protocol,
            format!("fetch refused: {}", String::from_utf8_lossy(reply)),
        ));
    }
    let cursors = c.cursors.clone();
    let now_us = c.shared.rec.clock.now_us();
    c.tracker.recovering = true;
    for m in answer.messages {
        let wanted = serde_json::from_str::<Id>(m.get())
            .ok()
            .and_then(|i| i.id.parse::<u64>().ok())
            .is_some_and(|id| due.binary_search(&id).is_ok());
        if wanted && let Err(e) = c.take_unit(shared, now_us, m.get().as_bytes()) {
            c.shared.rec.error(&e);
        }
    }
    c.tracker.recovering = false;
    c.cursors = cursors;
    Ok(())
}
