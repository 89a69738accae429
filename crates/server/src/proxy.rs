//! A TLS-terminating reverse proxy in front of the embedded server, as nginx or a cloud load
//! balancer runs one: https to the browser, plain http to the server, telling it what the
//! browser used in `X-Forwarded-Proto`, `-For` and `-Host`. What the server makes of those is
//! its `secure_requests` setting (express-session's `trust proxy`).

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    body::Body,
    http::{HeaderValue, Request, Response, StatusCode, header::HOST},
};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::Semaphore,
    task::JoinHandle,
};

use super::{
    LabTls,
    limits::{HEADER_READ_TIMEOUT, TLS_HANDSHAKE_TIMEOUT},
};

/// The most connections the proxy serves at once (more wait in the kernel's queue).
const MAX_CONNECTIONS: usize = 64;

/// How long one connection may live, whatever it does.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(300);

/// Where the proxy sends requests: the server's address now (it may move), if it runs.
pub type Backend = Arc<dyn Fn() -> Option<SocketAddr> + Send + Sync>;

/// A running proxy; it stops when dropped.
pub struct TlsProxy {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl TlsProxy {
    /// Listens on a free port of 127.0.0.1 with the lab's certificate and forwards every
    /// request to `backend` over plain http.
    pub async fn start(tls: &LabTls, backend: Backend) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let acceptor = tls.acceptor();
        let places = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let task = tokio::spawn(async move {
            loop {
                let Ok(place) = places.clone().acquire_owned().await else {
                    return;
                };
                let (tcp, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        tracing::debug!(%err, "the proxy could not accept");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                let (acceptor, backend) = (acceptor.clone(), backend.clone());
                tokio::spawn(async move {
                    let _place = place;
                    let connection = async {
                        // A handshake that never ends gives its place back, as the server's do.
                        let tls = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp))
                            .await
                            .map_err(|_| {
                                std::io::Error::other("the TLS handshake took too long")
                            })??;
                        let service = hyper::service::service_fn(move |request| {
                            forward(request, peer, backend.clone())
                        });
                        hyper::server::conn::http1::Builder::new()
                            .timer(TokioTimer::new())
                            .header_read_timeout(HEADER_READ_TIMEOUT)
                            .serve_connection(TokioIo::new(tls), service)
                            .await
                            .map_err(std::io::Error::other)
                    };
                    // Past its lifetime a connection is simply closed.
                    if let Ok(Err(err)) =
                        tokio::time::timeout(CONNECTION_LIFETIME, connection).await
                    {
                        tracing::debug!(%err, "a proxied connection ended");
                    }
                });
            }
        });
        Ok(Self { addr, task })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Sends one request on to the server (a connection of its own, as a simple proxy does) with
/// the forwarding headers; a server that cannot be reached is a 502 page.
async fn forward(
    mut request: Request<Incoming>,
    peer: SocketAddr,
    backend: Backend,
) -> Result<Response<Body>, std::convert::Infallible> {
    let headers = request.headers_mut();
    headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
    if let Ok(ip) = HeaderValue::from_str(&peer.ip().to_string()) {
        headers.insert("x-forwarded-for", ip);
    }
    if let Some(host) = headers.get(HOST).cloned() {
        headers.insert("x-forwarded-host", host);
    }
    let answer = async {
        let addr = backend().ok_or("the server is not running")?;
        let upstream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(upstream))
                .await
                .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(response.map(Body::new))
    };
    Ok(answer.await.unwrap_or_else(|why| {
        let mut response = Response::new(Body::from(format!(
            "Bad Gateway: the proxy could not reach the server ({why})"
        )));
        *response.status_mut() = StatusCode::BAD_GATEWAY;
        response
    }))
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// More clients than the proxy has places connect and say nothing, or stop halfway
    /// through a handshake: each is closed once the handshake's time is up, so the places
    /// come back and the ones queued behind them are served in turn (on a paused clock).
    #[tokio::test(start_paused = true)]
    async fn stalled_handshakes_give_their_places_back() {
        let tls = LabTls::generate(&["app.lab.test"]).unwrap();
        let proxy = TlsProxy::start(&tls, Arc::new(|| None)).await.unwrap();
        let started = tokio::time::Instant::now();
        let mut clients = Vec::new();
        for n in 0..MAX_CONNECTIONS + 16 {
            let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
            if n % 2 == 0 {
                client.write_all(&[0x16, 0x03, 0x01]).await.unwrap();
            }
            clients.push(client);
        }
        let mut buf = [0u8; 16];
        for client in &mut clients {
            let read = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT * 3, client.read(&mut buf)).await;
            assert_eq!(read.expect("closed in time").unwrap_or(0), 0);
        }
        assert!(started.elapsed() >= TLS_HANDSHAKE_TIMEOUT);
        assert!(started.elapsed() < TLS_HANDSHAKE_TIMEOUT * 3);
    }
}
