//! PROXY protocol v1/v2 (HAProxy's spec, as AWS NLB and HAProxy send it),
//! read only from peers in `server.proxyProtocol.trustedIps`. Parsing is the
//! `ppp` crate's; this module reads just enough bytes and hands whatever
//! followed the header to HTTP through [`Prefixed`].

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use ppp::{HeaderResult, PartialResult, v1, v2};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// v1 headers start with this.
const V1_PREFIX: &[u8] = b"PROXY ";
/// v2 headers start with this signature.
const V2_SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";
/// A v2 header is at most 16 + 65535 bytes.
const MAX_HEADER: usize = 16 + 65535;

/// A stream with bytes already read from it put back in front.
#[derive(Debug)]
pub struct Prefixed<S> {
    prefix: Bytes,
    inner: S,
}

impl<S> Prefixed<S> {
    /// A stream whose reads return `prefix` first.
    pub fn new(prefix: Bytes, inner: S) -> Self {
        Self { prefix, inner }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Whether `buf` could still be the start of a PROXY header.
fn could_be_header(buf: &[u8]) -> bool {
    [V1_PREFIX, V2_SIGNATURE].iter().any(|sig| {
        let n = buf.len().min(sig.len());
        buf[..n] == sig[..n]
    })
}

/// Reads an optional PROXY header from a trusted peer. Returns the client's
/// address (`None` for `UNKNOWN`/`LOCAL` or no header: keep the TCP peer) and
/// the stream with any bytes read past the header put back.
pub async fn accept<S: AsyncRead + Unpin>(mut stream: S) -> io::Result<(Option<SocketAddr>, Prefixed<S>)> {
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 512];
    let invalid = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if !could_be_header(&buf) {
            return Ok((None, Prefixed::new(Bytes::from(buf), stream)));
        }
        let parsed = HeaderResult::parse(&buf);
        if parsed.is_incomplete() {
            if buf.len() > MAX_HEADER {
                return Err(invalid("PROXY header too long".into()));
            }
            continue;
        }
        let (len, source) = match parsed {
            HeaderResult::V1(Ok(h)) => (h.header.len(), v1_source(&h.addresses)),
            HeaderResult::V2(Ok(h)) => (h.len(), v2_source(&h)),
            HeaderResult::V1(Err(e)) => return Err(invalid(format!("bad PROXY v1 header: {e}"))),
            HeaderResult::V2(Err(e)) => return Err(invalid(format!("bad PROXY v2 header: {e}"))),
        };
        let rest = Bytes::from(buf).slice(len..);
        return Ok((source, Prefixed::new(rest, stream)));
    }
}

fn v1_source(addresses: &v1::Addresses) -> Option<SocketAddr> {
    match addresses {
        v1::Addresses::Tcp4(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
        v1::Addresses::Tcp6(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
        v1::Addresses::Unknown => None,
    }
}

fn v2_source(header: &v2::Header<'_>) -> Option<SocketAddr> {
    if header.command == v2::Command::Local {
        return None;
    }
    match header.addresses {
        v2::Addresses::IPv4(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
        v2::Addresses::IPv6(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
        v2::Addresses::Unspecified | v2::Addresses::Unix(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    fn run(input: &[u8]) -> io::Result<(Option<SocketAddr>, Vec<u8>)> {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let (source, mut rest) = accept(input).await?;
            let mut tail = Vec::new();
            rest.read_to_end(&mut tail).await?;
            Ok((source, tail))
        })
    }

    #[test]
    fn v1_v2_and_plain() {
        let (src, tail) = run(b"PROXY TCP4 192.0.2.10 10.0.0.1 5000 80\r\nGET / HTTP/1.1\r\n").unwrap();
        assert_eq!(
            (src.unwrap().to_string(), tail.as_slice()),
            ("192.0.2.10:5000".into(), &b"GET / HTTP/1.1\r\n"[..])
        );
        let (src, _) = run(b"PROXY TCP6 2001:db8::5 ::1 443 80\r\n").unwrap();
        assert_eq!(src.unwrap().to_string(), "[2001:db8::5]:443");
        let (src, tail) = run(b"PROXY UNKNOWN\r\nGET").unwrap();
        assert_eq!((src, tail.as_slice()), (None, &b"GET"[..]));

        let addrs: (SocketAddr, SocketAddr) =
            ("[2001:db8::7]:4711".parse().unwrap(), "[::1]:80".parse().unwrap());
        let mut v2 = v2::Builder::with_addresses(0x21, v2::Protocol::Stream, addrs).build().unwrap();
        v2.extend_from_slice(b"GET /");
        let (src, tail) = run(&v2).unwrap();
        assert_eq!((src.unwrap().to_string(), tail.as_slice()), ("[2001:db8::7]:4711".into(), &b"GET /"[..]));

        let (src, tail) = run(b"GET / HTTP/1.1\r\n").unwrap();
        assert_eq!((src, tail.as_slice()), (None, &b"GET / HTTP/1.1\r\n"[..]));
        assert!(run(b"PROXY TCP4 not-an-ip 10.0.0.1 5000 80\r\n").is_err());
        assert!(run(b"PROX").is_err(), "EOF inside a header");
    }
}
