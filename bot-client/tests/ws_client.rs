//! The WebSocket client against a minimal in-process peer: the subprotocol
//! choice, binary postcard and JSON text messages, raw sends, and the end
//! of a connection.

use futures_util::{SinkExt, StreamExt};
use stadium_bot::{Client, ClientError, ConnectOptions, Transport};
use stadium_shared::codec::{self, Format};
use stadium_shared::{ClientMsg, JSON_SUBPROTOCOL, MAX_FRAME_LEN, ServerMsg, SessionId};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::http::header::SEC_WEBSOCKET_PROTOCOL;
use tokio_tungstenite::tungstenite::{Bytes, Message};

type Socket = WebSocketStream<TcpStream>;

/// Accepts one WebSocket, agreeing to the JSON subprotocol when asked, and
/// returns it with the subprotocol the client asked for.
#[expect(
    clippy::result_large_err,
    reason = "tungstenite's handshake callback returns its error response by value"
)]
async fn accept(listener: &TcpListener) -> (Socket, Option<String>) {
    let (tcp, _) = listener.accept().await.unwrap();
    let mut asked = None;
    let socket =
        tokio_tungstenite::accept_hdr_async(tcp, |request: &Request, mut response: Response| {
            asked = request
                .headers()
                .get(SEC_WEBSOCKET_PROTOCOL)
                .map(|value| value.to_str().unwrap().to_owned());
            if asked.as_deref() == Some(JSON_SUBPROTOCOL) {
                let protocol = HeaderValue::from_static(JSON_SUBPROTOCOL);
                response
                    .headers_mut()
                    .insert(SEC_WEBSOCKET_PROTOCOL, protocol);
            }
            Ok(response)
        })
        .await
        .unwrap();
    (socket, asked)
}

async fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/ws", listener.local_addr().unwrap());
    (listener, url)
}

fn welcome() -> ServerMsg {
    ServerMsg::Welcome {
        session: SessionId(3),
        version: 1,
        server: "peer".into(),
        resume_token: "0".repeat(32),
    }
}

/// Connects a client speaking `format` and has the peer welcome it.
async fn greeted(format: Format) -> (Client, Socket, Option<String>) {
    let (listener, url) = listener().await;
    let options = ConnectOptions {
        json: format == Format::Json,
        ..ConnectOptions::default()
    };
    let client_side = async {
        let mut client = Client::connect(&url, &options).await.unwrap();
        assert_eq!(client.hello("Ada").await.unwrap(), SessionId(3));
        client
    };
    let peer_side = async {
        let (mut socket, asked) = accept(&listener).await;
        let hello = socket.next().await.unwrap().unwrap();
        let bytes = match (&hello, format) {
            (Message::Binary(bytes), Format::Postcard) => bytes.clone(),
            (Message::Text(text), Format::Json) => Bytes::from(text.as_str().to_owned()),
            other => panic!("hello came as {other:?}"),
        };
        let hello = codec::decode_client(&bytes, format).unwrap();
        assert!(matches!(hello, ClientMsg::Hello { nickname, .. } if nickname == "Ada"));
        socket.send(reply(&welcome(), format)).await.unwrap();
        (socket, asked)
    };
    let (client, (socket, asked)) = tokio::join!(client_side, peer_side);
    (client, socket, asked)
}

fn reply(msg: &ServerMsg, format: Format) -> Message {
    let bytes = codec::encode(msg, format);
    match format {
        Format::Postcard => Message::Binary(bytes.into()),
        Format::Json => Message::Text(String::from_utf8(bytes).unwrap().into()),
    }
}

#[tokio::test]
async fn postcard_clients_speak_binary_and_ask_for_no_subprotocol() {
    let (mut client, mut socket, asked) = greeted(Format::Postcard).await;
    assert_eq!(asked, None);
    assert_eq!(client.transport(), Transport::WebSocket);

    client.send(&ClientMsg::Ping { nonce: 4 }).await.unwrap();
    let Message::Binary(ping) = socket.next().await.unwrap().unwrap() else {
        panic!("not binary")
    };
    assert_eq!(
        codec::decode_client(&ping, Format::Postcard).unwrap(),
        ClientMsg::Ping { nonce: 4 }
    );
    socket
        .send(reply(&ServerMsg::Pong { nonce: 4 }, Format::Postcard))
        .await
        .unwrap();
    assert_eq!(client.recv().await.unwrap(), ServerMsg::Pong { nonce: 4 });
}

#[tokio::test]
async fn json_clients_ask_for_the_subprotocol_and_speak_text() {
    let (mut client, mut socket, asked) = greeted(Format::Json).await;
    assert_eq!(asked.as_deref(), Some(JSON_SUBPROTOCOL));

    client
        .sender()
        .send_unreliable(&ClientMsg::Ping { nonce: 8 })
        .await
        .unwrap();
    let Message::Text(ping) = socket.next().await.unwrap().unwrap() else {
        panic!("not text")
    };
    assert_eq!(ping.as_str(), r#"{"ping":{"nonce":8}}"#);
    socket
        .send(reply(&ServerMsg::Pong { nonce: 8 }, Format::Json))
        .await
        .unwrap();
    assert_eq!(client.recv().await.unwrap(), ServerMsg::Pong { nonce: 8 });
}

#[tokio::test]
async fn raw_sends_arrive_as_one_message_of_exactly_those_bytes() {
    let (client, mut socket, _) = greeted(Format::Json).await;
    client
        .sender()
        .send_raw_reliable(b"{not json")
        .await
        .unwrap();
    let Message::Text(text) = socket.next().await.unwrap().unwrap() else {
        panic!("not text")
    };
    assert_eq!(text.as_str(), "{not json");

    let (client, mut socket, _) = greeted(Format::Postcard).await;
    client
        .sender()
        .send_raw_reliable(&[0xff, 0x00])
        .await
        .unwrap();
    let message = socket.next().await.unwrap().unwrap();
    assert_eq!(message, Message::Binary(vec![0xff, 0x00].into()));
    let unsupported = client.sender().write_raw_stream(&[0]).await;
    assert!(
        matches!(unsupported, Err(ClientError::Unsupported(_))),
        "{unsupported:?}"
    );
}

#[tokio::test]
async fn oversized_messages_from_the_server_end_the_connection() {
    let (mut client, mut socket, _) = greeted(Format::Postcard).await;
    let _ = socket
        .send(Message::Binary(vec![0; MAX_FRAME_LEN + 1].into()))
        .await;
    let first = client.recv().await;
    assert!(matches!(first, Err(ClientError::TooLarge(_))), "{first:?}");
    assert!(matches!(client.recv().await, Err(ClientError::Closed)));
}

#[tokio::test]
async fn receiver_sees_closed_when_the_server_closes() {
    let (mut client, mut socket, _) = greeted(Format::Postcard).await;
    socket.close(None).await.unwrap();
    assert!(matches!(client.recv().await, Err(ClientError::Closed)));
}

#[tokio::test]
async fn closing_sends_a_close_frame() {
    let (client, mut socket, _) = greeted(Format::Postcard).await;
    client.sender().close().await;
    let message = socket.next().await.unwrap().unwrap();
    assert!(matches!(message, Message::Close(_)), "{message:?}");
}
