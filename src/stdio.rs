//! The protocol's stdin, with a signal when the host closes it. The MCP service
//! keeps running while calls are in flight, but a closed stdin means nobody is
//! left to answer, so the process should report and exit at once.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use tokio::io::{AsyncRead, ReadBuf};
use tokio_util::sync::CancellationToken;

/// An [`AsyncRead`] that cancels `closed` when it reaches end of file.
pub struct EofSignal<R> {
    inner: R,
    closed: CancellationToken,
}

impl<R> EofSignal<R> {
    pub fn new(inner: R, closed: CancellationToken) -> Self {
        Self { inner, closed }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for EofSignal<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &poll
            && buf.filled().len() == before
            && buf.remaining() > 0
        {
            self.closed.cancel();
        }
        poll
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn signals_at_end_of_file_only() {
        let closed = CancellationToken::new();
        let mut reader = EofSignal::new(&b"hello"[..], closed.clone());
        let mut buf = [0u8; 3];
        reader.read_exact(&mut buf).await.unwrap();
        assert!(!closed.is_cancelled());
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"lo");
        assert!(closed.is_cancelled());
    }
}
