//! The QUIC client against a minimal in-process peer: certificate pinning,
//! framing in both directions, datagrams, raw sends and the end of a
//! connection. The peer speaks just enough of the protocol to check the
//! bytes the client writes; the real server is tested in `tests/`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use quinn::{Connection, Endpoint, RecvStream, SendStream};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use stadium_bot::client::CertHash;
use stadium_bot::{Client, ClientError, ConnectError, ConnectOptions};
use stadium_shared::codec::{self, Format};
use stadium_shared::frame::{self, HEADER_LEN};
use stadium_shared::{ClientMsg, ErrorCode, Input, MAX_FRAME_LEN, QUIC_ALPN, ServerMsg, SessionId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(5);

/// A QUIC endpoint on loopback with a fresh self-signed certificate.
struct Peer {
    endpoint: Endpoint,
    hash: CertHash,
}

impl Peer {
    fn start() -> Peer {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        let cert: CertificateDer<'static> = params.self_signed(&key).unwrap().der().clone();
        let hash = CertHash::of(&cert);
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap();
        tls.alpn_protocols = vec![QUIC_ALPN.to_vec()];
        let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls).unwrap();
        let config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
        let endpoint = Endpoint::server(config, "127.0.0.1:0".parse().unwrap()).unwrap();
        Peer { endpoint, hash }
    }

    fn url(&self) -> String {
        format!("quic://{}", self.endpoint.local_addr().unwrap())
    }

    fn options(&self) -> ConnectOptions {
        ConnectOptions {
            cert_sha256: Some(self.hash.to_hex()),
            ..ConnectOptions::default()
        }
    }

    /// Accepts one connection and its stream.
    async fn accept(&self) -> (Connection, SendStream, RecvStream) {
        let connection = self.endpoint.accept().await.unwrap().await.unwrap();
        let (send, recv) = connection.accept_bi().await.unwrap();
        (connection, send, recv)
    }
}

async fn read_frame(recv: &mut RecvStream) -> Vec<u8> {
    let mut header = [0u8; HEADER_LEN];
    recv.read_exact(&mut header).await.unwrap();
    let mut payload = vec![0; frame::payload_len(header, MAX_FRAME_LEN).unwrap()];
    recv.read_exact(&mut payload).await.unwrap();
    payload
}

async fn read_msg(recv: &mut RecvStream) -> ClientMsg {
    codec::decode_client(&read_frame(recv).await, Format::Postcard).unwrap()
}

async fn write_msg(send: &mut SendStream, msg: &ServerMsg) {
    let payload = codec::encode(msg, Format::Postcard);
    send.write_all(&frame::encode_frame(&payload))
        .await
        .unwrap();
}

fn welcome() -> ServerMsg {
    ServerMsg::Welcome {
        session: SessionId(7),
        version: 1,
        server: "peer".into(),
        resume_token: "0".repeat(32),
    }
}

/// Connects a client and has the peer welcome it. The peer learns of the
/// stream only once the hello is written, so both sides run together.
async fn greeted(peer: &Peer) -> (Client, Connection, SendStream, RecvStream) {
    let url = peer.url();
    let client_side = async {
        let mut client = Client::connect(&url, &peer.options()).await.unwrap();
        let session = client.hello("Ada").await.unwrap();
        (client, session)
    };
    let peer_side = async {
        let (connection, mut send, mut recv) = peer.accept().await;
        let hello = read_msg(&mut recv).await;
        assert!(matches!(hello, ClientMsg::Hello { nickname, .. } if nickname == "Ada"));
        write_msg(&mut send, &welcome()).await;
        (connection, send, recv)
    };
    let ((client, session), (connection, send, recv)) = tokio::join!(client_side, peer_side);
    assert_eq!(session, SessionId(7));
    (client, connection, send, recv)
}

#[tokio::test]
async fn pinned_server_is_greeted_and_answers_on_the_stream() {
    let peer = Peer::start();
    let (mut client, _connection, mut send, mut recv) = greeted(&peer).await;

    client.send(&ClientMsg::Ping { nonce: 5 }).await.unwrap();
    assert_eq!(read_msg(&mut recv).await, ClientMsg::Ping { nonce: 5 });
    write_msg(&mut send, &ServerMsg::Pong { nonce: 5 }).await;
    let pong = tokio::time::timeout(WAIT, client.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pong, ServerMsg::Pong { nonce: 5 });

    assert!(client.counters().sent() > 0);
    assert!(client.counters().received() > 0);
}

#[tokio::test]
async fn certificate_with_another_hash_is_refused() {
    let peer = Peer::start();
    let url = peer.url();
    let wrong_pin = Peer::start().options();
    let accepting = tokio::spawn(async move {
        if let Some(incoming) = peer.endpoint.accept().await {
            // The client aborts the handshake; the peer only sees it fail.
            let _ = incoming.await;
        }
    });
    let result = Client::connect(&url, &wrong_pin).await;
    assert!(
        matches!(result, Err(ConnectError::QuicConnection(_))),
        "{:?}",
        result.err()
    );
    accepting.abort();
}

#[tokio::test]
async fn unreliable_messages_travel_as_datagrams_both_ways() {
    let peer = Peer::start();
    let (mut client, connection, _send, _recv) = greeted(&peer).await;

    let input = ClientMsg::Input(Input {
        seq: 3,
        turn: 0.5,
        thrust: true,
        fire: false,
    });
    client.sender().send_unreliable(&input).await.unwrap();
    let datagram = tokio::time::timeout(WAIT, connection.read_datagram())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        codec::decode_client(&datagram, Format::Postcard).unwrap(),
        input
    );

    let pong = codec::encode(&ServerMsg::Pong { nonce: 9 }, Format::Postcard);
    connection.send_datagram(Bytes::from(pong)).unwrap();
    let received = tokio::time::timeout(WAIT, client.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(received, ServerMsg::Pong { nonce: 9 });
}

#[tokio::test]
async fn raw_sends_write_exactly_the_bytes_given() {
    let peer = Peer::start();
    let (client, _connection, _send, mut recv) = greeted(&peer).await;

    client
        .sender()
        .send_raw_reliable(&[0xde, 0xad])
        .await
        .unwrap();
    assert_eq!(read_frame(&mut recv).await, vec![0xde, 0xad]);

    let announced = (MAX_FRAME_LEN as u32 + 1).to_be_bytes();
    client.sender().write_raw_stream(&announced).await.unwrap();
    let mut header = [0u8; HEADER_LEN];
    recv.read_exact(&mut header).await.unwrap();
    assert_eq!(header, announced);
}

#[tokio::test]
async fn oversized_frame_from_the_server_ends_the_connection() {
    let peer = Peer::start();
    let (mut client, _connection, mut send, _recv) = greeted(&peer).await;

    send.write_all(&(MAX_FRAME_LEN as u32 + 1).to_be_bytes())
        .await
        .unwrap();
    let first = tokio::time::timeout(WAIT, client.recv()).await.unwrap();
    assert!(matches!(first, Err(ClientError::TooLarge(_))), "{first:?}");
    let then = tokio::time::timeout(WAIT, client.recv()).await.unwrap();
    assert!(matches!(then, Err(ClientError::Closed)), "{then:?}");
}

#[tokio::test]
async fn receiver_sees_closed_when_the_server_closes() {
    let peer = Peer::start();
    let (mut client, connection, _send, _recv) = greeted(&peer).await;

    connection.close(1000u32.into(), b"bye");
    let end = tokio::time::timeout(WAIT, client.recv()).await.unwrap();
    assert!(matches!(end, Err(ClientError::Closed)), "{end:?}");
    let send = client.send(&ClientMsg::Ping { nonce: 1 }).await;
    assert!(matches!(send, Err(ClientError::Closed)), "{send:?}");
}

#[tokio::test]
async fn hello_answered_with_an_error_is_a_refusal() {
    let peer = Peer::start();
    let url = peer.url();
    let client_side = async {
        let mut client = Client::connect(&url, &peer.options()).await.unwrap();
        client.hello("Ada").await
    };
    // The peer keeps its connection until the client has read the error:
    // closing at once would discard the unsent reply.
    let peer_side = async {
        let (connection, mut send, mut recv) = peer.accept().await;
        read_msg(&mut recv).await;
        write_msg(&mut send, &ServerMsg::error(ErrorCode::VersionMismatch)).await;
        (connection, send)
    };
    let (result, _peer) = tokio::join!(client_side, peer_side);
    match result {
        Err(ClientError::Refused { code, .. }) => assert_eq!(code, ErrorCode::VersionMismatch),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn missing_hash_is_fetched_from_the_http_port() {
    let peer = Peer::start();
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http_port = http.local_addr().unwrap().port();
    let body = format!("{{\"sha256\": \"{}\"}}", peer.hash.to_hex());
    tokio::spawn(async move {
        let (mut socket, _) = http.accept().await.unwrap();
        let mut request = vec![0u8; 4096];
        let read = socket.read(&mut request).await.unwrap();
        assert!(request[..read].starts_with(b"GET /api/cert-hash "));
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(response.as_bytes()).await.unwrap();
    });

    let options = ConnectOptions {
        cert_sha256: None,
        http_port,
        json: false,
    };
    let url = peer.url();
    let handshake = async { peer.endpoint.accept().await.unwrap().await };
    let (client, _) = tokio::join!(Client::connect(&url, &options), handshake);
    assert!(client.is_ok(), "{:?}", client.err());
}
