//! https for the lab: a certificate authority made per lab, a server certificate for the lab's
//! names (and 127.0.0.1, localhost) that it signs, and a listener that serves http and https on
//! one port by the connection's first byte. Only the lab's browsers trust the authority, so
//! `https://app.lab.test/` is a secure context there, as a real https site is; nothing else on
//! the machine is asked to trust anything.

use std::{
    io,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore, mpsc},
    time::{Instant, Sleep},
};
use tokio_rustls::{TlsAcceptor, server::TlsStream};
use tokio_util::either::Either;

use super::limits::{
    ACCEPT_ERROR_PAUSE, FIRST_BYTE_TIMEOUT, IDLE_READ_TIMEOUT, TLS_HANDSHAKE_TIMEOUT,
    connection_places,
};

/// The first byte of a TLS connection (a handshake record).
const TLS_HANDSHAKE: u8 = 0x16;

/// How many connections may finish their first bytes at once before the listener waits.
const PENDING_CONNECTIONS: usize = 1024;

/// The lab's https identity: its authority (which the browsers trust) and the server's
/// certificate and key.
#[derive(Clone)]
pub struct LabTls {
    authority: CertificateDer<'static>,
    server: rustls::ServerConfig,
}

impl std::fmt::Debug for LabTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabTls").finish_non_exhaustive()
    }
}

/// Why the lab's https could not be set up (it then runs without).
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// The certificate could not be made.
    #[error("could not make the lab's certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// rustls refused the configuration.
    #[error("could not use the lab's certificate: {0}")]
    Config(#[from] rustls::Error),
}

impl LabTls {
    /// A new authority and a server certificate for `names` (host names or IP addresses),
    /// made in memory for this process.
    pub fn generate(names: &[&str]) -> Result<Self, TlsSetupError> {
        let problem = TlsSetupError::Certificate;
        let mut authority = CertificateParams::new(Vec::<String>::new()).map_err(problem)?;
        authority.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        authority.distinguished_name.push(
            DnType::CommonName,
            "Session Lab's authority (this process only)",
        );
        let authority =
            CertifiedIssuer::self_signed(authority, KeyPair::generate().map_err(problem)?)
                .map_err(problem)?;
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut server = CertificateParams::new(names).map_err(problem)?;
        server
            .distinguished_name
            .push(DnType::CommonName, "Session Lab's embedded server");
        let key = KeyPair::generate().map_err(problem)?;
        let certificate = server.signed_by(&key, &authority).map_err(problem)?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let server = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(TlsSetupError::Config)?
        .with_no_client_auth()
        .with_single_cert(
            vec![certificate.der().clone(), authority.der().clone()],
            key,
        )
        .map_err(TlsSetupError::Config)?;
        Ok(Self {
            authority: authority.der().clone(),
            server,
        })
    }

    /// The authority's certificate (DER), for the browsers to trust.
    pub fn authority_der(&self) -> &[u8] {
        self.authority.as_ref()
    }

    /// A TLS acceptor with the server's certificate (http/1.1), for a listener of one's own
    /// (the cookie conformance tests serve other sites' names with it).
    pub fn acceptor(&self) -> TlsAcceptor {
        let mut config = self.server.clone();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        TlsAcceptor::from(Arc::new(config))
    }
}

/// A connection: plain, or TLS.
type Stream = Either<TcpStream, TlsStream<TcpStream>>;

/// A connection being served: closed when the client sends nothing for
/// [`IDLE_READ_TIMEOUT`], and holding one of the listener's places until it closes.
pub struct Connection {
    stream: Stream,
    /// Fires at the idle deadline as it was when last armed; reads only move `last_read`, and
    /// the timer is moved forward when it fires early (one timer operation a minute, not one
    /// per read).
    idle: Pin<Box<Sleep>>,
    last_read: Instant,
    _place: OwnedSemaphorePermit,
}

impl Connection {
    fn new(stream: Stream, place: OwnedSemaphorePermit) -> Self {
        Self {
            stream,
            idle: Box::pin(tokio::time::sleep(IDLE_READ_TIMEOUT)),
            last_read: Instant::now(),
            _place: place,
        }
    }

    /// Whether the connection is TLS (https).
    pub fn is_tls(&self) -> bool {
        matches!(self.stream, Either::Right(_))
    }
}

/// How a request reached the server: over TLS or not (an extension of every request).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Transport {
    /// Over TLS.
    pub tls: bool,
}

impl AsyncRead for Connection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    self.last_read = Instant::now();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
            Poll::Pending => loop {
                match self.idle.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        let deadline = self.last_read + IDLE_READ_TIMEOUT;
                        if deadline > Instant::now() {
                            // Bytes came since it was armed: wait out the rest.
                            self.idle.as_mut().reset(deadline);
                            continue;
                        }
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("the client sent nothing for {IDLE_READ_TIMEOUT:?}"),
                        )));
                    }
                    Poll::Pending => return Poll::Pending,
                }
            },
        }
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Serves http, and with a [`LabTls`] https on the same port: a connection whose first byte
/// starts a TLS handshake is handed to TLS. Each new connection's first byte is awaited on a
/// task of its own, so a client that connects and says nothing holds up no one.
pub struct Listener {
    tcp: TcpListener,
    tls: Option<TlsAcceptor>,
    places: Arc<Semaphore>,
    ready_tx: mpsc::Sender<(Connection, SocketAddr)>,
    ready_rx: mpsc::Receiver<(Connection, SocketAddr)>,
}

impl Listener {
    /// Serves plain http on `tcp`, and https too when `tls` is given, on
    /// [`connection_places`] places.
    pub fn new(tcp: TcpListener, tls: Option<&LabTls>) -> Self {
        Self::with_places(tcp, tls, connection_places())
    }

    /// As [`Self::new`], serving at most `places` connections at once.
    fn with_places(tcp: TcpListener, tls: Option<&LabTls>, places: usize) -> Self {
        let (ready_tx, ready_rx) = mpsc::channel(PENDING_CONNECTIONS);
        Self {
            tcp,
            tls: tls.map(LabTls::acceptor),
            places: Arc::new(Semaphore::new(places)),
            ready_tx,
            ready_rx,
        }
    }

    /// Looks at a new connection's first byte and, for TLS, completes the handshake; a
    /// connection that takes too long for either is dropped (closed).
    async fn sort(stream: TcpStream, tls: TlsAcceptor) -> Option<Stream> {
        let mut first = [0u8; 1];
        let Ok(peeked) = tokio::time::timeout(FIRST_BYTE_TIMEOUT, stream.peek(&mut first)).await
        else {
            tracing::debug!("a connection sent nothing for {FIRST_BYTE_TIMEOUT:?}: closed");
            return None;
        };
        match peeked {
            Ok(1) if first[0] == TLS_HANDSHAKE => {
                match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, tls.accept(stream)).await {
                    Ok(Ok(stream)) => Some(Either::Right(stream)),
                    Ok(Err(err)) => {
                        tracing::debug!(%err, "TLS handshake failed");
                        None
                    }
                    Err(_) => {
                        tracing::debug!(
                            "a TLS handshake took over {TLS_HANDSHAKE_TIMEOUT:?}: closed"
                        );
                        None
                    }
                }
            }
            Ok(_) => Some(Either::Left(stream)),
            Err(_) => None,
        }
    }

    /// The next connection to serve: waits for a place, then for a client.
    pub async fn accept(&mut self) -> (Connection, SocketAddr) {
        loop {
            // A place first: with every place taken, new connections wait in the kernel's
            // queue (the open ones are served meanwhile, and the sorted ones still arrive).
            let place = tokio::select! {
                place = self.places.clone().acquire_owned() => match place {
                    Ok(place) => place,
                    Err(_) => std::future::pending().await,
                },
                Some(ready) = self.ready_rx.recv() => return ready,
            };
            tokio::select! {
                accepted = self.tcp.accept() => match accepted {
                    Ok((stream, addr)) => {
                        let Some(tls) = self.tls.clone() else {
                            return (Connection::new(Either::Left(stream), place), addr);
                        };
                        let ready = self.ready_tx.clone();
                        tokio::spawn(async move {
                            if let Some(stream) = Self::sort(stream, tls).await {
                                let _ = ready.send((Connection::new(stream, place), addr)).await;
                            }
                        });
                    }
                    Err(err) => accept_failed(err).await,
                },
                Some(ready) = self.ready_rx.recv() => return ready,
            }
        }
    }
}

/// As axum does: a connection that failed before it was accepted is skipped; anything else
/// (too many open files) waits [`ACCEPT_ERROR_PAUSE`] before trying again, while the
/// connections being served go on and free their descriptors.
async fn accept_failed(err: io::Error) {
    if matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::warn!(
        "could not accept a connection ({err}); trying again in {} s",
        ACCEPT_ERROR_PAUSE.as_secs()
    );
    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::limits::{HEADER_READ_TIMEOUT, MAX_CONNECTIONS, MAX_HEAD_BYTES};

    /// A client that connects and says nothing, and one that starts a TLS handshake and stops,
    /// are both closed once their time is up (on a paused clock: no real waiting).
    #[tokio::test(start_paused = true)]
    async fn silent_and_half_handshake_connections_are_closed() {
        let tls = LabTls::generate(&["127.0.0.1"]).unwrap();
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let mut listener = Listener::new(tcp, Some(&tls));
        tokio::spawn(async move {
            loop {
                let _ = listener.accept().await;
            }
        });
        let started = tokio::time::Instant::now();
        let mut silent = TcpStream::connect(addr).await.unwrap();
        let mut half = TcpStream::connect(addr).await.unwrap();
        half.write_all(&[TLS_HANDSHAKE, 0x03, 0x01]).await.unwrap();
        let mut buf = [0u8; 16];
        // Bounded, so that a server that never closes fails the test instead of hanging it.
        let limit = FIRST_BYTE_TIMEOUT + TLS_HANDSHAKE_TIMEOUT;
        let read = tokio::time::timeout(limit, silent.read(&mut buf)).await;
        assert_eq!(read.expect("closed in time").unwrap_or(0), 0);
        assert!(started.elapsed() >= FIRST_BYTE_TIMEOUT);
        let read = tokio::time::timeout(limit, half.read(&mut buf)).await;
        assert_eq!(read.expect("closed in time").unwrap_or(0), 0);
        assert!(started.elapsed() >= TLS_HANDSHAKE_TIMEOUT);
    }

    /// A plain-http server on `places` places that answers "ok".
    async fn serve_ok(places: usize) -> SocketAddr {
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let listener = Listener::with_places(tcp, None, places);
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
        tokio::spawn(super::super::serve::serve(
            listener,
            app,
            std::future::pending(),
        ));
        addr
    }

    /// A request head left half-sent is closed once the client has been silent for the idle
    /// timeout, so such connections cannot pile up.
    #[tokio::test(start_paused = true)]
    async fn a_half_sent_request_is_closed() {
        let addr = serve_ok(MAX_CONNECTIONS).await;
        let started = tokio::time::Instant::now();
        let mut half = TcpStream::connect(addr).await.unwrap();
        half.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        let mut buf = [0u8; 256];
        let read = tokio::time::timeout(2 * IDLE_READ_TIMEOUT, half.read(&mut buf)).await;
        let read = read.expect("closed in time").unwrap_or(0);
        assert!(started.elapsed() >= IDLE_READ_TIMEOUT);
        // hyper may answer the broken head with a 408 or just close: either way it is over.
        assert!(
            read == 0 || buf.starts_with(b"HTTP/1.1 4"),
            "{:?}",
            &buf[..read]
        );
    }

    /// With every place taken, a new connection waits (it is not served, not dropped) and is
    /// served as soon as a place frees.
    #[tokio::test(start_paused = true)]
    async fn connections_beyond_the_cap_wait_for_a_place() {
        let addr = serve_ok(2).await;
        let mut holders = Vec::new();
        for _ in 0..2 {
            let mut held = TcpStream::connect(addr).await.unwrap();
            held.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
            holders.push(held);
        }
        tokio::task::yield_now().await;
        let mut third = TcpStream::connect(addr).await.unwrap();
        third
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut buf = Vec::new();
        let waited =
            tokio::time::timeout(Duration::from_secs(5), third.read_to_end(&mut buf)).await;
        assert!(waited.is_err(), "served while both places were taken");
        drop(holders.pop());
        tokio::time::timeout(Duration::from_secs(5), third.read_to_end(&mut buf))
            .await
            .expect("served once a place freed")
            .unwrap();
        assert!(
            buf.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&buf)
        );
    }

    /// A head that drips in a byte at a time, each well inside the idle timeout, is still
    /// closed once the whole head has taken longer than the header-read timeout.
    #[tokio::test(start_paused = true)]
    async fn a_dripping_head_is_closed() {
        let addr = serve_ok(MAX_CONNECTIONS).await;
        let started = tokio::time::Instant::now();
        let mut drip = TcpStream::connect(addr).await.unwrap();
        drip.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        let mut sent = 0;
        let closed = loop {
            tokio::time::sleep(Duration::from_secs(10)).await;
            if drip.write_all(b"X").await.is_err() {
                break true;
            }
            sent += 1;
            let mut buf = [0u8; 256];
            match tokio::time::timeout(Duration::from_millis(1), drip.read(&mut buf)).await {
                // Answered (a 408 or 400) or closed: either way the server is done with it.
                Ok(_) => break true,
                Err(_) if sent < 30 => {}
                Err(_) => break false,
            }
        };
        assert!(closed, "still open after {sent} bytes");
        let took = started.elapsed();
        assert!(
            took >= HEADER_READ_TIMEOUT && took < HEADER_READ_TIMEOUT + Duration::from_secs(20),
            "{took:?}"
        );
    }

    /// A head larger than the limit is answered 431, and the server goes on serving.
    #[tokio::test]
    async fn a_head_over_the_limit_is_answered_431() {
        let addr = serve_ok(MAX_CONNECTIONS).await;
        let mut big = TcpStream::connect(addr).await.unwrap();
        let header = format!("X-Big: {}\r\n", "a".repeat(MAX_HEAD_BYTES));
        let request = format!("GET / HTTP/1.1\r\nHost: x\r\n{header}\r\n");
        // The server may stop reading and answer before all of it is written.
        let _ = big.write_all(request.as_bytes()).await;
        let mut answer = Vec::new();
        let _ = big.read_to_end(&mut answer).await;
        assert!(
            answer.starts_with(b"HTTP/1.1 431"),
            "{}",
            String::from_utf8_lossy(&answer)
        );
        let mut next = TcpStream::connect(addr).await.unwrap();
        next.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        next.read_to_end(&mut answer).await.unwrap();
        assert!(answer.starts_with(b"HTTP/1.1 200"));
    }

    /// A keep-alive connection that asks again every 40 s stays open past the idle timeout:
    /// each request moves its deadline (on a paused clock).
    #[tokio::test(start_paused = true)]
    async fn a_connection_in_use_is_kept() {
        let addr = serve_ok(MAX_CONNECTIONS).await;
        let mut client = TcpStream::connect(addr).await.unwrap();
        for round in 0..4 {
            client
                .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .unwrap();
            let mut buf = [0u8; 512];
            let read = tokio::time::timeout(Duration::from_secs(5), client.read(&mut buf))
                .await
                .expect("answered")
                .unwrap();
            assert!(buf[..read].starts_with(b"HTTP/1.1 200"), "round {round}");
            tokio::time::sleep(IDLE_READ_TIMEOUT * 2 / 3).await;
        }
    }
}
