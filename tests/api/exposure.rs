//! The webhook facing idle, half-sent and too many connections: timeouts close
//! them, a limit bounds them, and intake goes on.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{spawn_app_with_gateway, PATIENCE};

/// Waits (at most [`PATIENCE`]) for the server to close `stream`, and returns
/// what it sent before closing.
async fn closed_by_the_server(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let read = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut answer)).await;
    assert!(
        read.is_ok(),
        "the connection is still open after {PATIENCE:?}"
    );
    String::from_utf8_lossy(&answer).into_owned()
}

const HALF_A_HEAD: &[u8] = b"POST /onebot HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: appl";

#[tokio::test]
async fn idle_and_half_sent_connections_are_closed_after_the_header_timeout() {
    let app = spawn_app_with_gateway("header_timeout = \"300ms\"").await;
    let mut idle = TcpStream::connect(app.daemon().addr()).await.unwrap();
    let mut half_sent = TcpStream::connect(app.daemon().addr()).await.unwrap();
    half_sent.write_all(HALF_A_HEAD).await.unwrap();
    // A keep-alive connection left idle after a whole request.
    let mut kept_alive = TcpStream::connect(app.daemon().addr()).await.unwrap();
    kept_alive
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();

    closed_by_the_server(&mut idle).await;
    closed_by_the_server(&mut half_sent).await;
    let answered = closed_by_the_server(&mut kept_alive).await;
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
}

#[tokio::test]
async fn beyond_the_connection_limit_intake_goes_on_once_idle_connections_time_out() {
    let mut app = spawn_app_with_gateway("header_timeout = \"500ms\"\nmax_connections = 20").await;
    let mut hogs = Vec::new();
    // 200 slowloris connections, ten times the limit.
    for i in 0..200 {
        let mut hog = TcpStream::connect(app.daemon().addr()).await.unwrap();
        if i % 2 == 0 {
            hog.write_all(HALF_A_HEAD).await.unwrap();
        }
        hogs.push(hog);
    }

    let event = app.says("大家好");
    let answered = tokio::time::timeout(PATIENCE, app.push(&event)).await;
    assert_eq!(answered.ok(), Some(204), "the gateway's event got through");
    assert_eq!(app.logged("message.group").await.len(), 1);
    for hog in &mut hogs {
        closed_by_the_server(hog).await;
    }
}

#[tokio::test]
async fn a_body_that_stops_arriving_gets_408_and_nothing_is_logged() {
    let mut app = spawn_app_with_gateway("body_timeout = \"300ms\"").await;
    let body = serde_json::to_vec(&app.says("大家好")).unwrap();
    let mut slow = TcpStream::connect(app.daemon().addr()).await.unwrap();
    let head = format!(
        "POST /onebot HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    slow.write_all(&body[..body.len() / 2]).await.unwrap();

    let answer = tokio::time::timeout(PATIENCE, async {
        let mut buf = vec![0; 1024];
        let n = slow.read(&mut buf).await.unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    })
    .await
    .expect("answered while the body is still half sent");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("the body did not arrive within 300ms"),
        "{answer}"
    );
    assert!(app.logged("message.group").await.is_empty());
    let event = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        app.push(&event).await,
        204,
        "sent whole, the event is taken"
    );
}
