//! A WebSocket client written by hand over a TCP socket, for cases that a
//! well-behaved client library cannot produce: thousands of continuation
//! frames, control frames between fragments, a client that stops reading.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Frame opcodes (RFC 6455 §5.2).
pub const CONTINUATION: u8 = 0x0;
pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xa;

/// An upgraded connection.
pub struct RawWs {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

/// One client frame, masked as clients must.
pub fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut out = vec![u8::from(fin) << 7 | opcode];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n < 65_536 => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

impl RawWs {
    /// Upgrades a new TCP connection on `path`, optionally naming a
    /// subprotocol; panics unless the server answers 101.
    pub async fn connect(addr: SocketAddr, path: &str, protocol: Option<&str>) -> RawWs {
        let stream = TcpStream::connect(addr).await.expect("tcp connect");
        Self::upgrade(stream, addr, path, protocol).await
    }

    /// Upgrades `stream`.
    pub async fn upgrade(
        mut stream: TcpStream,
        addr: SocketAddr,
        path: &str,
        protocol: Option<&str>,
    ) -> RawWs {
        let protocol = protocol
            .map(|p| format!("Sec-WebSocket-Protocol: {p}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n{protocol}\r\n"
        );
        stream.write_all(request.as_bytes()).await.expect("upgrade");
        let mut buf = Vec::new();
        let end = loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let mut chunk = [0u8; 1024];
            let n = stream.read(&mut chunk).await.expect("upgrade response");
            assert!(n > 0, "closed during the upgrade");
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_string();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        RawWs {
            stream,
            buf: buf[end..].to_vec(),
        }
    }

    /// Writes raw bytes (one or more frames).
    pub async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Sends one complete binary message.
    pub async fn send_binary(&mut self, payload: &[u8]) {
        self.send(&frame(true, BINARY, payload))
            .await
            .expect("send binary");
    }

    /// The next frame from the server (unmasked): its opcode and payload,
    /// or `None` when the connection ends.
    pub async fn read_frame(&mut self) -> Option<(u8, Vec<u8>)> {
        loop {
            if let Some((frame, used)) = parse(&self.buf) {
                self.buf.drain(..used);
                return Some(frame);
            }
            let mut chunk = [0u8; 16 * 1024];
            match self.stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Reads until the server's close frame and returns its status code,
    /// with the binary messages received before it; `None` if the
    /// connection ended without one.
    pub async fn until_close(&mut self) -> (Option<u16>, Vec<Vec<u8>>) {
        let mut messages = Vec::new();
        while let Some((opcode, payload)) = self.read_frame().await {
            match opcode {
                CLOSE => {
                    let code = payload.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]]));
                    return (code, messages);
                }
                BINARY | TEXT => messages.push(payload),
                _ => {}
            }
        }
        (None, messages)
    }
}

/// One server frame from the front of `buf`, and the bytes it used.
fn parse(buf: &[u8]) -> Option<((u8, Vec<u8>), usize)> {
    let (&b0, rest) = buf.split_first()?;
    let (&b1, rest) = rest.split_first()?;
    let (len, header) = match b1 & 0x7f {
        126 => (
            usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?])),
            4,
        ),
        127 => {
            let bytes: [u8; 8] = rest.get(..8)?.try_into().ok()?;
            (u64::from_be_bytes(bytes) as usize, 10)
        }
        n => (usize::from(n), 2),
    };
    let payload = buf.get(header..header + len)?;
    Some(((b0 & 0x0f, payload.to_vec()), header + len))
}
