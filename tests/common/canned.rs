//! A raw HTTP server for tests that need bytes no framework would send: each response is
//! canned (status, `Set-Cookie` lines as raw bytes, `Location`) and chosen by a `lab-case=N`
//! in the query; any other request gets an empty 200. http and https (with a `LabTls`) on
//! their own ports. Every connection is closed after one answer.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::TcpListener,
};
use tokio_rustls::TlsAcceptor;

/// The longest request head the server reads.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// One canned response.
#[derive(Clone, Debug, Default)]
pub struct Canned {
    /// The status code (200 or a redirect).
    pub status: u16,
    /// Each `Set-Cookie` header's value, as raw bytes.
    pub set_cookies: Vec<Vec<u8>>,
    /// The `Location` header, if any.
    pub location: Option<String>,
}

/// The server: its ports and its canned answers.
#[derive(Clone)]
pub struct CannedServer {
    /// Where plain http listens.
    pub http: SocketAddr,
    /// Where https listens.
    pub https: SocketAddr,
    cases: Arc<Mutex<HashMap<u64, Canned>>>,
    next: Arc<Mutex<u64>>,
}

impl CannedServer {
    /// Starts both listeners on 127.0.0.1 on the current runtime.
    pub async fn start(tls: TlsAcceptor) -> Self {
        let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let https = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Self {
            http: http.local_addr().unwrap(),
            https: https.local_addr().unwrap(),
            cases: Arc::default(),
            next: Arc::default(),
        };
        let cases = server.cases.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = http.accept().await {
                tokio::spawn(answer(stream, cases.clone()));
            }
        });
        let cases = server.cases.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = https.accept().await {
                let tls = tls.clone();
                let cases = cases.clone();
                tokio::spawn(async move {
                    if let Ok(stream) = tls.accept(stream).await {
                        answer(stream, cases).await;
                    }
                });
            }
        });
        server
    }

    /// Registers a canned response; returns the query parameter that selects it.
    pub fn add(&self, canned: Canned) -> String {
        let mut next = self.next.lock().unwrap();
        *next += 1;
        self.cases.lock().unwrap().insert(*next, canned);
        format!("lab-case={}", *next)
    }

    /// The port this machine serves `scheme` on.
    pub fn port(&self, scheme: &str) -> u16 {
        if scheme == "https" {
            self.https.port()
        } else {
            self.http.port()
        }
    }
}

/// Reads a request's head (up to the blank line); `None` when the client hangs up first or
/// sends more than [`MAX_HEAD_BYTES`].
pub async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > MAX_HEAD_BYTES {
            return None;
        }
    }
    Some(head)
}

async fn answer<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    cases: Arc<Mutex<HashMap<u64, Canned>>>,
) {
    let Some(head) = read_head(&mut stream).await else {
        return;
    };
    let text = String::from_utf8_lossy(&head);
    let target = text.split(' ').nth(1).unwrap_or("/");
    let case = target
        .split(['?', '&'])
        .find_map(|part| part.strip_prefix("lab-case="))
        .and_then(|n| n.parse::<u64>().ok())
        .and_then(|n| cases.lock().unwrap().get(&n).cloned());
    let canned = case.unwrap_or(Canned {
        status: 200,
        ..Canned::default()
    });
    let mut out = format!("HTTP/1.1 {} Canned\r\n", canned.status).into_bytes();
    for line in &canned.set_cookies {
        out.extend_from_slice(b"Set-Cookie: ");
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    if let Some(location) = &canned.location {
        out.extend_from_slice(format!("Location: {location}\r\n").as_bytes());
    }
    out.extend_from_slice(b"Content-Length: 0\r\nConnection: close\r\n\r\n");
    let _ = stream.write_all(&out).await;
    let _ = stream.shutdown().await;
}
