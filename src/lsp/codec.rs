//! LSP base-protocol framing: `Content-Length: N\r\n\r\n` then N bytes of JSON.
//!
//! Bounded: a frame larger than the limit is refused from its header alone, so a
//! huge `Content-Length` can never make the bridge allocate it.

use bytes::{Buf, BytesMut};
use serde_json::Value;
use tokio_util::codec::Decoder;

/// Largest header block accepted before the blank line.
const MAX_HEADER_BYTES: usize = 8 * 1024;

/// Largest frame that is skipped (answered with an error) rather than ending the
/// session: beyond it a Content-Length is taken as a broken stream, since skipping
/// it would swallow every later frame as body.
pub const MAX_SKIPPED_FRAME_BYTES: usize = 1 << 30;

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// A header line that is not `Name: value`, or a missing/invalid Content-Length.
    #[error("bad LSP header: {0}")]
    BadHeader(String),
    /// The frame is larger than the limit.
    #[error("frame of {length} bytes is over the {limit}-byte limit")]
    TooLarge { length: usize, limit: usize },
    /// The body is not JSON.
    #[error("frame body is not JSON: {0}")]
    BadJson(#[source] serde_json::Error),
}

/// Frames JSON values with `Content-Length` headers.
#[derive(Debug, Clone)]
pub struct LspCodec {
    max_frame: usize,
    /// The body length of the frame being read, once its header is complete.
    pending: Option<usize>,
    /// Bytes of an oversized body still to skip.
    skipping: usize,
}

impl LspCodec {
    pub fn new(max_frame: usize) -> Self {
        Self {
            max_frame,
            pending: None,
            skipping: 0,
        }
    }
}

/// One decoded item: a message, or a frame that had to be dropped (the stream
/// stays usable; the server answers with a parse error).
#[derive(Debug)]
pub enum Frame {
    Message(Value),
    Dropped(FrameError),
}

impl Decoder for LspCodec {
    type Item = Frame;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        if self.skipping > 0 {
            let skip = self.skipping.min(src.len());
            src.advance(skip);
            self.skipping -= skip;
            if self.skipping > 0 {
                return Ok(None);
            }
        }
        let length = match self.pending {
            Some(length) => length,
            None => {
                let Some(end) = find(src, b"\r\n\r\n") else {
                    if src.len() > MAX_HEADER_BYTES {
                        return Err(FrameError::BadHeader(format!(
                            "no end of headers within {MAX_HEADER_BYTES} bytes"
                        )));
                    }
                    return Ok(None);
                };
                let header = src.split_to(end + 4);
                let length = content_length(&header[..end])?;
                if length > MAX_SKIPPED_FRAME_BYTES {
                    return Err(FrameError::TooLarge {
                        length,
                        limit: MAX_SKIPPED_FRAME_BYTES,
                    });
                }
                if length > self.max_frame {
                    let skip = length.min(src.len());
                    src.advance(skip);
                    self.skipping = length - skip;
                    return Ok(Some(Frame::Dropped(FrameError::TooLarge {
                        length,
                        limit: self.max_frame,
                    })));
                }
                self.pending = Some(length);
                length
            }
        };
        if src.len() < length {
            src.reserve(length - src.len());
            return Ok(None);
        }
        self.pending = None;
        let body = src.split_to(length);
        Ok(Some(match serde_json::from_slice(&body) {
            Ok(value) => Frame::Message(value),
            Err(e) => Frame::Dropped(FrameError::BadJson(e)),
        }))
    }
}

/// One message as a frame: its header, then its JSON.
pub fn frame(value: &Value) -> Vec<u8> {
    let body = value.to_string();
    let mut frame = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    frame.extend_from_slice(body.as_bytes());
    frame
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The Content-Length of a header block; other headers (Content-Type) are allowed.
fn content_length(header: &[u8]) -> Result<usize, FrameError> {
    let text = std::str::from_utf8(header)
        .map_err(|_| FrameError::BadHeader("headers are not UTF-8".into()))?;
    let mut length = None;
    for line in text.split("\r\n") {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| FrameError::BadHeader(format!("{line:?} is not `Name: value`")))?;
        if name.trim().eq_ignore_ascii_case("content-length") {
            length = Some(value.trim().parse::<usize>().map_err(|_| {
                FrameError::BadHeader(format!("Content-Length {:?} is not a number", value.trim()))
            })?);
        }
    }
    length.ok_or_else(|| FrameError::BadHeader("no Content-Length header".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BufMut;
    use serde_json::json;

    fn decode_all(codec: &mut LspCodec, buf: &mut BytesMut) -> Vec<Frame> {
        let mut out = Vec::new();
        while let Some(item) = codec.decode(buf).expect("decodes") {
            out.push(item);
        }
        out
    }

    fn messages(frames: Vec<Frame>) -> Vec<Value> {
        frames
            .into_iter()
            .map(|f| match f {
                Frame::Message(v) => v,
                Frame::Dropped(e) => panic!("dropped: {e}"),
            })
            .collect()
    }

    #[test]
    fn several_messages_in_one_read() {
        let a = json!({"jsonrpc": "2.0", "id": 1, "method": "a"});
        let b = json!({"jsonrpc": "2.0", "method": "b", "params": {"x": "ü"}});
        let mut buf = BytesMut::from(&[frame(&a), frame(&b)].concat()[..]);
        let mut codec = LspCodec::new(1 << 20);
        assert_eq!(messages(decode_all(&mut codec, &mut buf)), vec![a, b]);
        assert!(buf.is_empty());
    }

    #[test]
    fn partial_frames_wait_for_more_bytes() {
        let a = json!({"id": 7, "result": "done"});
        let bytes = frame(&a);
        let mut codec = LspCodec::new(1 << 20);
        let mut buf = BytesMut::new();
        for (n, byte) in bytes.iter().enumerate() {
            buf.put_u8(*byte);
            let got = decode_all(&mut codec, &mut buf);
            if n + 1 < bytes.len() {
                assert!(got.is_empty(), "nothing before the last byte");
            } else {
                assert_eq!(messages(got), vec![a.clone()]);
            }
        }
    }

    #[test]
    fn other_headers_are_allowed_and_case_is_ignored() {
        let body = r#"{"id":1}"#;
        let raw = format!(
            "content-length: {}\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{body}",
            body.len()
        );
        let mut codec = LspCodec::new(1024);
        let mut buf = BytesMut::from(raw.as_bytes());
        assert_eq!(
            messages(decode_all(&mut codec, &mut buf)),
            vec![json!({"id": 1})]
        );
    }

    #[test]
    fn bad_headers_are_errors() {
        for raw in [
            "Content-Length: ten\r\n\r\n{}",
            "Content-Type: x\r\n\r\n{}",
            "garbage line\r\n\r\n{}",
        ] {
            let mut codec = LspCodec::new(1024);
            let mut buf = BytesMut::from(raw.as_bytes());
            assert!(
                matches!(codec.decode(&mut buf), Err(FrameError::BadHeader(_))),
                "{raw}"
            );
        }
        let mut codec = LspCodec::new(1024);
        let mut buf = BytesMut::from(&vec![b'x'; MAX_HEADER_BYTES + 1][..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(FrameError::BadHeader(_))
        ));
    }

    #[test]
    fn a_huge_content_length_ends_the_session_without_allocating_it() {
        let mut codec = LspCodec::new(1024);
        let huge = usize::MAX / 2;
        let mut buf = BytesMut::from(format!("Content-Length: {huge}\r\n\r\n{{").as_bytes());
        match codec.decode(&mut buf) {
            Err(FrameError::TooLarge { length, limit }) => {
                assert_eq!((length, limit), (huge, MAX_SKIPPED_FRAME_BYTES))
            }
            other => panic!("expected a fatal TooLarge, got {other:?}"),
        }
        assert!(
            buf.capacity() < 1 << 20,
            "no allocation of the announced size"
        );
    }

    #[test]
    fn a_frame_over_the_limit_but_under_the_hard_cap_is_skipped_exactly() {
        let mut codec = LspCodec::new(16);
        let body = "x".repeat(5000);
        let next = json!({"id": 3});
        let mut stream = format!("Content-Length: {}\r\n\r\n{body}", body.len()).into_bytes();
        stream.extend(frame(&next));
        // Fed in small pieces, the skipped body never leaks into the next frame.
        let mut buf = BytesMut::new();
        let mut frames = Vec::new();
        for piece in stream.chunks(700) {
            buf.extend_from_slice(piece);
            while let Some(frame) = codec.decode(&mut buf).unwrap() {
                frames.push(frame);
            }
        }
        assert!(matches!(
            frames[0],
            Frame::Dropped(FrameError::TooLarge { length: 5000, .. })
        ));
        assert!(
            matches!(&frames[1], Frame::Message(m) if *m == next),
            "{frames:?}"
        );
        assert_eq!(frames.len(), 2);
    }

    #[test]
    fn an_oversized_frame_is_skipped_and_the_next_one_read() {
        let mut codec = LspCodec::new(16);
        let big = json!({"padding": "x".repeat(100)});
        let small = json!({"id": 2});
        let mut buf = BytesMut::from(&[frame(&big), frame(&small)].concat()[..]);
        let frames = decode_all(&mut codec, &mut buf);
        assert!(matches!(
            frames[0],
            Frame::Dropped(FrameError::TooLarge { .. })
        ));
        assert!(matches!(&frames[1], Frame::Message(v) if *v == small));
    }

    #[test]
    fn bad_json_drops_the_frame_only() {
        let mut codec = LspCodec::new(1024);
        let good = json!({"id": 3});
        let mut raw = b"Content-Length: 5\r\n\r\n{oops".to_vec();
        raw.extend(frame(&good));
        let mut buf = BytesMut::from(&raw[..]);
        let frames = decode_all(&mut codec, &mut buf);
        assert!(matches!(frames[0], Frame::Dropped(FrameError::BadJson(_))));
        assert!(matches!(&frames[1], Frame::Message(v) if *v == good));
    }

    #[test]
    fn encode_then_decode_round_trips() {
        let mut codec = LspCodec::new(1 << 20);
        let value = json!({"jsonrpc": "2.0", "id": "é", "result": [1, 2, 3]});
        let mut buf = BytesMut::from(&frame(&value)[..]);
        assert!(buf.starts_with(b"Content-Length: "));
        assert_eq!(messages(decode_all(&mut codec, &mut buf)), vec![value]);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn json_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(|n| json!(n)),
                ".{0,20}".prop_map(Value::String),
            ];
            leaf.prop_recursive(3, 24, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        proptest! {
            /// However the byte stream is cut into reads, the same messages come out.
            #[test]
            fn any_split_of_any_messages_decodes_the_same(
                values in prop::collection::vec(json_value(), 1..6),
                cuts in prop::collection::vec(1usize..64, 0..40),
            ) {
                let stream: Vec<u8> = values.iter().flat_map(frame).collect();
                let mut codec = LspCodec::new(1 << 20);
                let mut buf = BytesMut::new();
                let mut out = Vec::new();
                let mut at = 0;
                let mut sizes = cuts.into_iter().cycle();
                while at < stream.len() {
                    let step = sizes.next().unwrap_or(stream.len()).min(stream.len() - at);
                    buf.extend_from_slice(&stream[at..at + step]);
                    at += step;
                    out.extend(messages(decode_all(&mut codec, &mut buf)));
                }
                prop_assert_eq!(out, values);
            }

            /// Arbitrary bytes never panic the decoder or make it hold more than the limit.
            #[test]
            fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
                let mut codec = LspCodec::new(256);
                let mut buf = BytesMut::from(&bytes[..]);
                while let Ok(Some(_)) = codec.decode(&mut buf) {}
                prop_assert!(codec.pending.is_none_or(|n| n <= 256));
            }
        }
    }
}
