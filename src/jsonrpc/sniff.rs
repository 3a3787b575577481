//! Which framing a client speaks on stdio, told from its first bytes: MCP's
//! newline-delimited JSON, or LSP's `Content-Length` headers.

use std::io::Cursor;

use tokio::io::{AsyncRead, AsyncReadExt, Chain};

/// How messages are framed on a byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One JSON value per line (MCP's stdio transport).
    Lines,
    /// `Content-Length: N` headers, a blank line, N bytes (LSP's base protocol).
    ContentLength,
    /// The input ended before any byte.
    Nothing,
}

/// Read until the first bytes tell the framing, however the client splits its
/// first write; the input with those bytes put back in front, and the framing.
pub async fn sniff_framing<R: AsyncRead + Unpin>(
    mut input: R,
) -> std::io::Result<(Chain<Cursor<Vec<u8>>, R>, Framing)> {
    let mut first = Vec::new();
    let mut chunk = [0u8; 64];
    let framing = loop {
        let read = input.read(&mut chunk).await?;
        first.extend_from_slice(&chunk[..read]);
        match looks_like_lsp(&first) {
            Some(true) => break Framing::ContentLength,
            Some(false) => break Framing::Lines,
            None if read == 0 && first.is_empty() => break Framing::Nothing,
            None if read == 0 || first.len() >= 4096 => break Framing::Lines,
            None => {}
        }
    };
    Ok((Cursor::new(first).chain(input), framing))
}

/// LSP messages start with a `Content-Length` (or `Content-Type`) header; MCP's
/// with a JSON value. `None` while the bytes so far could be either.
fn looks_like_lsp(first: &[u8]) -> Option<bool> {
    const LSP: &[u8] = b"content-";
    let start = first.iter().position(|b| !b.is_ascii_whitespace())?;
    let head = first[start..].to_ascii_lowercase();
    let shown = head.len().min(LSP.len());
    if head[..shown] != LSP[..shown] {
        return Some(false);
    }
    (shown == LSP.len()).then_some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mode_is_told_from_any_split_of_the_first_bytes() {
        let lsp = b"  Content-Length: 52\r\n\r\n{}";
        for cut in 0..lsp.len() {
            let decided = looks_like_lsp(&lsp[..cut]);
            assert!(
                decided.is_none() || decided == Some(true),
                "{cut}: {decided:?}"
            );
        }
        assert_eq!(looks_like_lsp(b"content-type: x"), Some(true));
        assert_eq!(looks_like_lsp(b"{\"jsonrpc\""), Some(false));
        assert_eq!(looks_like_lsp(b" \n{"), Some(false));
        assert_eq!(looks_like_lsp(b"Cont"), None);
        assert_eq!(looks_like_lsp(b"Conx"), Some(false));
        assert_eq!(looks_like_lsp(b""), None);
    }

    #[tokio::test]
    async fn a_first_message_in_tiny_pieces_is_still_detected() {
        let (client, mut server) = tokio::io::duplex(64);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let mut client = client;
            for byte in b"Content-Length: 2\r\n\r\n{}" {
                client.write_all(&[*byte]).await.unwrap();
                tokio::task::yield_now().await;
            }
            client
        });
        let (_, framing) = sniff_framing(&mut server).await.unwrap();
        assert_eq!(framing, Framing::ContentLength);
        drop(writer.await.unwrap());
    }

    #[tokio::test]
    async fn the_bytes_read_are_given_back_and_an_empty_input_is_nothing() {
        let (mut input, framing) = sniff_framing(&b"{\"a\":1}\n"[..]).await.unwrap();
        assert_eq!(framing, Framing::Lines);
        let mut all = String::new();
        input.read_to_string(&mut all).await.unwrap();
        assert_eq!(all, "{\"a\":1}\n");
        assert_eq!(sniff_framing(&b""[..]).await.unwrap().1, Framing::Nothing);
    }
}
