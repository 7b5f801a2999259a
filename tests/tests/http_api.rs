//! The HTTP side: health, the rooms API, the certificate hash, and QUIC
//! with an operator's own certificate files.

mod common;

use std::time::Duration;

use common::{Wire, connect, create_trivia, join, quick_trivia};
use stadium_bot::{Client, ConnectOptions};

async fn get(server: &stadium_server::Server, path: &str) -> (u16, String) {
    let response = reqwest::get(format!("http://{}{path}", server.http_addr()))
        .await
        .expect("GET");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_rooms_and_cert_hash_answer_in_json() {
    let server = common::start().await;
    assert_eq!(get(&server, "/healthz").await, (200, "ok\n".to_owned()));

    let (mut client, _) = connect(&server, Wire::Quic, "Lister").await;
    let room = create_trivia(&mut client, quick_trivia(1, 6)).await;
    join(&mut client, room.code.as_str()).await;
    let expected = serde_json::json!([{
        "code": room.code.as_str(), "game": "trivia", "players": 1, "max": 6,
        "spectators": 0, "state": "lobby",
    }]);
    // The listing follows the room's tick; wait for it to show the player.
    let rooms = common::within("room listed with its player", async {
        loop {
            let (status, body) = get(&server, "/api/rooms").await;
            assert_eq!(status, 200);
            let rooms: serde_json::Value = serde_json::from_str(&body).expect("JSON");
            if rooms == expected {
                return rooms;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(rooms, expected);

    let (status, body) = get(&server, "/api/cert-hash").await;
    assert_eq!(status, 200);
    let hash: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(hash["sha256"], server.cert_sha256());
    assert_eq!(server.cert_sha256().len(), 64);
    assert_eq!(get(&server, "/no-such-page").await.0, 404);
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quic_serves_an_operators_pem_files_and_clients_pin_them() {
    let dir = std::env::temp_dir().join(format!("stadium-pem-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .expect("params")
        .self_signed(&key)
        .expect("certificate");
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).expect("write cert");
    std::fs::write(&key_path, key.serialize_pem()).expect("write key");

    let server = common::start_with(|config| {
        config.cert = Some(cert_path.clone());
        config.key = Some(key_path.clone());
    })
    .await;
    // No hash given: the client fetches it from the HTTP port.
    let options = ConnectOptions {
        http_port: server.http_addr().port(),
        ..Default::default()
    };
    let mut client = Client::connect(&server.quic_url(), &options)
        .await
        .expect("connect");
    client
        .hello("Pinned")
        .await
        .expect("welcome over the operator's certificate");

    // A client pinning another certificate refuses this server.
    let wrong = ConnectOptions {
        cert_sha256: Some("ab".repeat(32)),
        ..options
    };
    let refused = match Client::connect(&server.quic_url(), &wrong).await {
        Ok(mut client) => client.hello("Wrong").await.is_err(),
        Err(_) => true,
    };
    assert!(refused, "a wrong pin must not reach a session");
    server.shutdown(Duration::from_secs(2)).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c13_connections_that_never_finish_their_headers_are_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let server = common::start_with(|config| config.handshake_secs = 0.5).await;
    let silent = tokio::net::TcpStream::connect(server.http_addr())
        .await
        .expect("connect");
    let mut trickle = tokio::net::TcpStream::connect(server.http_addr())
        .await
        .expect("connect");
    trickle
        .write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgr")
        .await
        .expect("write");
    for mut stream in [silent, trickle] {
        let mut buf = [0u8; 512];
        let read = common::within("the server closes it", async {
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    // hyper may answer 408 before closing.
                    Ok(_) => continue,
                }
            }
        });
        read.await;
    }
    // Meanwhile, and after, the server serves as before.
    assert_eq!(get(&server, "/healthz").await.0, 200);
    let (_client, _) = connect(&server, Wire::WsJson, "After").await;
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_client_is_served_at_the_root_with_types_and_revalidation() {
    let server = common::start().await;
    let base = format!("http://{}", server.http_addr());
    let client = reqwest::Client::new();
    let page = client.get(format!("{base}/")).send().await.expect("GET /");
    assert_eq!(page.status().as_u16(), 200);
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().expect("ASCII header").to_owned())
    };
    assert_eq!(
        header(&page, "content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(header(&page, "cache-control").as_deref(), Some("no-cache"));
    assert!(header(&page, "content-security-policy").is_some());
    let html = page.text().await.expect("body");
    for id in [
        "nickname",
        "create-room",
        "room-list",
        "arena-canvas",
        "chat-log",
    ] {
        assert!(html.contains(&format!("data-testid=\"{id}\"")), "{id}");
    }

    let script = client
        .get(format!("{base}/js/snapshot.js"))
        .send()
        .await
        .expect("GET a module");
    assert_eq!(
        header(&script, "content-type").as_deref(),
        Some("text/javascript; charset=utf-8")
    );
    let etag = header(&script, "etag").expect("an ETag");
    let again = client
        .get(format!("{base}/js/snapshot.js"))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("GET with If-None-Match");
    assert_eq!(again.status().as_u16(), 304);
    assert!(again.bytes().await.expect("body").is_empty());

    let posted = client.post(format!("{base}/")).send().await.expect("POST");
    assert_eq!(posted.status().as_u16(), 405);
    assert_eq!(get(&server, "/js/missing.js").await.0, 404);
    server.shutdown(Duration::from_secs(2)).await;
}
