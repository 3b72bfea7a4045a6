//! Frames on a WebTransport stream: newline-delimited JSON (rtbench's) or
//! a u32 big-endian length prefix. One small buffer per stream, grown for
//! a large frame and shrunk back after it.

use crate::profile::Framing;

/// Frames above this size end the stream (a protocol error, not a
/// memory blow-up).
pub const MAX_FRAME: usize = 4 << 20;
/// What a reader keeps between frames.
const KEEP: usize = 4096;

/// A frame longer than [`MAX_FRAME`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a WebTransport stream frame exceeds {MAX_FRAME} bytes")]
pub struct TooLarge;

/// Splits a stream's bytes into frames.
#[derive(Debug)]
pub struct Frames {
    framing: Framing,
    buf: Vec<u8>,
    /// Bytes of `buf` holding data; frames start at `start`.
    len: usize,
    start: usize,
}

impl Frames {
    pub fn new(framing: Framing) -> Self {
        Frames {
            framing,
            buf: Vec::new(),
            len: 0,
            start: 0,
        }
    }

    /// Room to read into (at least 1 KiB).
    pub fn spare(&mut self) -> &mut [u8] {
        if self.start > 0 && self.start == self.len {
            self.start = 0;
            self.len = 0;
            if self.buf.len() > KEEP {
                self.buf.truncate(KEEP);
                self.buf.shrink_to(KEEP);
            }
        } else if self.start > 0 && self.buf.len() - self.len < 1024 {
            self.buf.copy_within(self.start..self.len, 0);
            self.len -= self.start;
            self.start = 0;
        }
        if self.buf.len() - self.len < 1024 {
            let grown = (self.buf.len() * 2).clamp(KEEP, MAX_FRAME + 8);
            self.buf.resize(grown.max(self.len + 1024), 0);
        }
        &mut self.buf[self.len..]
    }

    /// `n` bytes were read into [`Self::spare`].
    pub fn filled(&mut self, n: usize) {
        self.len += n;
    }

    /// The next complete frame, if there is one.
    pub fn next_frame(&mut self) -> Result<Option<&[u8]>, TooLarge> {
        let data = &self.buf[self.start..self.len];
        // (where the frame starts in `data`, its length, bytes consumed)
        let (offset, frame_len, skip) = match self.framing {
            Framing::Newline => match memchr::memchr(b'\n', data) {
                Some(i) => (0, i, i + 1),
                None if data.len() > MAX_FRAME => return Err(TooLarge),
                None => return Ok(None),
            },
            Framing::Length => {
                let Some(head) = data.first_chunk::<4>() else {
                    return Ok(None);
                };
                let n = u32::from_be_bytes(*head) as usize;
                if n > MAX_FRAME {
                    return Err(TooLarge);
                }
                if data.len() < 4 + n {
                    return Ok(None);
                }
                (4, n, 4 + n)
            }
        };
        let at = self.start + offset;
        self.start += skip;
        let frame = &self.buf[at..at + frame_len];
        // A CR before the LF belongs to the line end.
        Ok(Some(frame.strip_suffix(b"\r").unwrap_or(frame)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(f: &mut Frames, bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for chunk in bytes.chunks(7) {
            let spare = f.spare();
            spare[..chunk.len()].copy_from_slice(chunk);
            f.filled(chunk.len());
            while let Some(frame) = f.next_frame().expect("frame") {
                out.push(frame.to_vec());
            }
        }
        out
    }

    #[test]
    fn lines_split_across_reads() {
        let mut f = Frames::new(Framing::Newline);
        let text =
            b"{\"id\":\"1\"}\n{\"type\":\"gap\",\"cursor\":\"9\"}\r\n\n{\"id\":\"2\"}\n{\"par";
        let frames = feed(&mut f, text);
        assert_eq!(
            frames,
            vec![
                b"{\"id\":\"1\"}".to_vec(),
                b"{\"type\":\"gap\",\"cursor\":\"9\"}".to_vec(),
                Vec::new(),
                b"{\"id\":\"2\"}".to_vec()
            ]
        );
    }

    #[test]
    fn length_prefixed_frames() {
        let mut f = Frames::new(Framing::Length);
        let mut bytes = Vec::new();
        let big = vec![b'x'; 5000];
        for body in [&b"{}"[..], &big[..], &b"[1]"[..]] {
            bytes.extend_from_slice(&(body.len() as u32).to_be_bytes());
            bytes.extend_from_slice(body);
        }
        let frames = feed(&mut f, &bytes);
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[1].len(), 5000);
        assert_eq!(frames[2], b"[1]");
        let mut f = Frames::new(Framing::Length);
        let spare = f.spare();
        spare[..4].copy_from_slice(&u32::MAX.to_be_bytes());
        f.filled(4);
        assert_eq!(f.next_frame(), Err(TooLarge));
    }
}
