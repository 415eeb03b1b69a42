//! The webhook facing idle, half-sent and too many connections: timeouts close
//! them, a limit bounds them, and intake goes on.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::helpers::{spawn_app_with_gateway, PATIENCE};

/// Waits (at most `within`) for the server to close `stream`, and returns what
/// it sent before closing.
async fn closed_by_the_server(stream: &mut TcpStream, within: Duration) -> String {
    let mut answer = Vec::new();
    let read = tokio::time::timeout(within, stream.read_to_end(&mut answer)).await;
    assert!(
        read.is_ok(),
        "the connection is still open after {within:?}"
    );
    String::from_utf8_lossy(&answer).into_owned()
}

/// Far more than the 300 ms header timeout these tests set, and well under the
/// 10 s default, so a setting that is not applied fails the test.
const CLOSE_WITHIN: Duration = Duration::from_secs(5);

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

    closed_by_the_server(&mut idle, CLOSE_WITHIN).await;
    closed_by_the_server(&mut half_sent, CLOSE_WITHIN).await;
    let answered = closed_by_the_server(&mut kept_alive, CLOSE_WITHIN).await;
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
}

#[tokio::test]
async fn beyond_the_connection_limit_intake_goes_on_once_idle_connections_time_out() {
    let header_timeout = Duration::from_millis(500);
    let mut app = spawn_app_with_gateway("header_timeout = \"500ms\"\nmax_connections = 50").await;
    // 200 slowloris connections, four times the limit, each watched until the
    // server closes it.
    let mut hogs = Vec::new();
    for i in 0..200 {
        let mut hog = TcpStream::connect(app.daemon().addr()).await.unwrap();
        if i % 2 == 0 {
            hog.write_all(HALF_A_HEAD).await.unwrap();
        }
        hogs.push(tokio::spawn(async move {
            closed_by_the_server(&mut hog, PATIENCE).await;
            Instant::now()
        }));
    }

    let event = app.says("大家好");
    let answered = tokio::time::timeout(PATIENCE, app.push(&event)).await;
    assert_eq!(answered.ok(), Some(204), "the gateway's event got through");
    assert_eq!(app.logged("message.group").await.len(), 1);
    let mut closed = Vec::new();
    for hog in hogs {
        closed.push(hog.await.unwrap());
    }
    // Served fifty at a time: the last were let in only after earlier ones
    // timed out. Without the limit all 200 close together after one timeout.
    let first = closed.iter().min().unwrap();
    let last = closed.iter().max().unwrap();
    assert!(
        *last - *first >= 2 * header_timeout,
        "the hogs were served in rounds: {:?} between the first and last close",
        *last - *first
    );
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
