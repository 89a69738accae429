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
    sync::mpsc,
    time::{Instant, Sleep},
};
use tokio_rustls::{TlsAcceptor, server::TlsStream};
use tokio_util::either::Either;

use super::{
    limits::{
        ACCEPT_ERROR_PAUSE, FIRST_BYTE_TIMEOUT, HEADER_READ_TIMEOUT, IDLE_READ_TIMEOUT,
        TLS_HANDSHAKE_TIMEOUT, connection_places,
    },
    places::{Place, Places},
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
/// [`IDLE_READ_TIMEOUT`], when a request head takes longer than [`HEADER_READ_TIMEOUT`] to
/// arrive (a keep-alive connection's wait for its next request included), or when its place is
/// wanted for a newcomer while it waits for a request head (see `places.rs`); it holds one of
/// the listener's places until it closes.
///
/// The header-read timeout is kept here rather than by hyper's, which arms a timer at every
/// request (a boxed sleep, a clock read, a timer-wheel entry): here one timer per connection is
/// moved only when it fires early.
pub struct Connection {
    stream: Stream,
    /// Fires at the earlier of the idle and the head deadlines as they were when last armed;
    /// reads only move `last_read`, requests only the place's waiting time, and the timer is
    /// moved forward when it fires early (a timer operation every 20 s at most, not one per
    /// read or request).
    timer: Pin<Box<Sleep>>,
    last_read: Instant,
    /// When it was handed over to be served (after its TLS handshake): its first request
    /// head's time runs from here.
    opened: Instant,
    place: Arc<Place>,
}

/// Which of a connection's limits ran out.
enum Over {
    Idle,
    Head,
}

impl Connection {
    fn new(stream: Stream, place: Arc<Place>) -> Self {
        let now = Instant::now();
        Self {
            stream,
            timer: Box::pin(tokio::time::sleep_until(
                now + HEADER_READ_TIMEOUT.min(IDLE_READ_TIMEOUT),
            )),
            last_read: now,
            opened: now,
            place,
        }
    }

    /// The connection's next deadline, and which limit it is.
    fn deadline(&self) -> (Instant, Over) {
        let idle = self.last_read + IDLE_READ_TIMEOUT;
        match self.place.waiting_since() {
            Some(since) if since.max(self.opened) + HEADER_READ_TIMEOUT < idle => {
                (since.max(self.opened) + HEADER_READ_TIMEOUT, Over::Head)
            }
            _ => (idle, Over::Idle),
        }
    }

    /// Its place: serving a request marks it busy (see [`Place::busy`]).
    pub(crate) fn place(&self) -> Arc<Place> {
        self.place.clone()
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
            Poll::Pending if self.place.shed().poll_fired(cx) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "closed while waiting for a request, to make room for a new connection",
            ))),
            Poll::Pending => loop {
                match self.timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        let (deadline, over) = self.deadline();
                        if deadline > Instant::now() {
                            // Bytes or requests came since it was armed: wait out the rest.
                            self.timer.as_mut().reset(deadline);
                            continue;
                        }
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            match over {
                                Over::Idle => {
                                    format!("the client sent nothing for {IDLE_READ_TIMEOUT:?}")
                                }
                                Over::Head => format!(
                                    "a request head took over {} s to arrive",
                                    HEADER_READ_TIMEOUT.as_secs()
                                ),
                            },
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
    places: Arc<Places>,
    ready_tx: mpsc::Sender<(Connection, SocketAddr)>,
    ready_rx: mpsc::Receiver<(Connection, SocketAddr)>,
    /// A connection accepted that waits for a place.
    pending: Option<(TcpStream, SocketAddr)>,
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
            places: Places::new(places),
            ready_tx,
            ready_rx,
            pending: None,
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

    /// The next connection to serve: a client, then a place for it — with every place taken,
    /// the connection waiting longest for a request head makes room (see `places.rs`).
    pub async fn accept(&mut self) -> (Connection, SocketAddr) {
        loop {
            let (stream, addr) = match self.pending.take() {
                Some(pending) => pending,
                None => tokio::select! {
                    accepted = self.tcp.accept() => match accepted {
                        Ok(accepted) => accepted,
                        Err(err) => {
                            accept_failed(err).await;
                            continue;
                        }
                    },
                    Some(ready) = self.ready_rx.recv() => return ready,
                },
            };
            // Sorted connections hold places already: serve them while this one waits.
            let place = tokio::select! {
                place = self.places.take() => place,
                Some(ready) = self.ready_rx.recv() => {
                    self.pending = Some((stream, addr));
                    return ready;
                }
            };
            let Some(tls) = self.tls.clone() else {
                return (Connection::new(Either::Left(stream), place), addr);
            };
            let ready = self.ready_tx.clone();
            tokio::spawn(async move {
                let shed = place.shed().clone();
                let sorted = tokio::select! {
                    sorted = Self::sort(stream, tls) => sorted,
                    () = shed.fired() => None,
                };
                if let Some(stream) = sorted {
                    let _ = ready.send((Connection::new(stream, place), addr)).await;
                }
            });
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
    use crate::limits::{MAX_CONNECTIONS, MAX_HEAD_BYTES};

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

    /// A request head left half-sent is closed once the header-read timeout is over (before
    /// the idle timeout), so such connections cannot pile up.
    #[tokio::test(start_paused = true)]
    async fn a_half_sent_request_is_closed() {
        let addr = serve_ok(MAX_CONNECTIONS).await;
        let started = tokio::time::Instant::now();
        let mut half = TcpStream::connect(addr).await.unwrap();
        half.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        let mut buf = [0u8; 256];
        let read = tokio::time::timeout(2 * IDLE_READ_TIMEOUT, half.read(&mut buf)).await;
        let read = read.expect("closed in time").unwrap_or(0);
        let took = started.elapsed();
        assert!(
            took >= HEADER_READ_TIMEOUT && took < IDLE_READ_TIMEOUT,
            "{took:?}"
        );
        // hyper may answer the broken head with a 408 or just close: either way it is over.
        assert!(
            read == 0 || buf.starts_with(b"HTTP/1.1 4"),
            "{:?}",
            &buf[..read]
        );
    }

    /// Sends a whole request on a new connection and reads the answer, within `limit`.
    async fn ask(addr: SocketAddr, path: &str, limit: Duration) -> Option<Vec<u8>> {
        let mut client = TcpStream::connect(addr).await.ok()?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        client.write_all(request.as_bytes()).await.ok()?;
        let mut answer = Vec::new();
        tokio::time::timeout(limit, client.read_to_end(&mut answer))
            .await
            .ok()?
            .ok()?;
        Some(answer)
    }

    /// With every place held by a connection that sent half a head, a new client is served at
    /// once: the stalest stalled connection is closed to make room, and each newcomer pushes
    /// out the next (on a paused clock).
    #[tokio::test(start_paused = true)]
    async fn stalled_connections_make_room_for_a_newcomer() {
        let addr = serve_ok(2).await;
        let mut stalled = Vec::new();
        for _ in 0..2 {
            let mut held = TcpStream::connect(addr).await.unwrap();
            held.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
            stalled.push(held);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let answer = ask(addr, "/", Duration::from_secs(1))
            .await
            .expect("served at once");
        assert!(
            answer.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&answer)
        );
        // The first stalled connection (the stalest) was the one closed.
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_secs(1), stalled[0].read(&mut buf))
            .await
            .expect("closed");
        assert_eq!(read.unwrap_or(0), 0);
    }

    /// An army of stalled connections, twice the places and renewed as they are closed, keeps
    /// no honest client out: asked every second, each is answered within a second.
    #[tokio::test(start_paused = true)]
    async fn an_army_of_stalled_connections_keeps_no_one_out() {
        const PLACES: usize = 8;
        let addr = serve_ok(PLACES).await;
        let army = tokio::spawn(async move {
            let mut held: Vec<TcpStream> = Vec::new();
            loop {
                // Those the server closed are replaced.
                held.retain(|s| {
                    let mut buf = [0u8; 1];
                    matches!(s.try_read(&mut buf), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
                });
                while held.len() < 2 * PLACES {
                    let Ok(mut s) = TcpStream::connect(addr).await else {
                        break;
                    };
                    let _ = s.write_all(b"GET / HTTP/1.1\r\nHost:").await;
                    held.push(s);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        for second in 0..20 {
            let answer = ask(addr, "/", Duration::from_secs(1))
                .await
                .unwrap_or_else(|| panic!("no answer at second {second}"));
            assert!(answer.starts_with(b"HTTP/1.1 200"), "second {second}");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        army.abort();
    }

    /// With every place mid-request, a newcomer is not let in by closing one (requests are
    /// never cut): it waits, and is served when a request ends.
    #[tokio::test(start_paused = true)]
    async fn requests_in_flight_are_never_cut_for_a_newcomer() {
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let listener = Listener::with_places(tcp, None, 1);
        let app = axum::Router::new()
            .route(
                "/slow",
                axum::routing::get(|| async {
                    tokio::time::sleep(Duration::from_secs(10)).await;
                    "slow"
                }),
            )
            .route("/", axum::routing::get(|| async { "ok" }));
        tokio::spawn(super::super::serve::serve(
            listener,
            app,
            std::future::pending(),
        ));
        let slow = tokio::spawn(ask(addr, "/slow", Duration::from_secs(30)));
        tokio::time::sleep(Duration::from_secs(1)).await;
        let started = tokio::time::Instant::now();
        let quick = ask(addr, "/", Duration::from_secs(30))
            .await
            .expect("served");
        assert!(quick.starts_with(b"HTTP/1.1 200"));
        assert!(
            started.elapsed() >= Duration::from_secs(8),
            "{:?}",
            started.elapsed()
        );
        let slow = slow.await.unwrap().expect("the slow request finished");
        assert!(
            slow.ends_with(b"slow"),
            "{}",
            String::from_utf8_lossy(&slow)
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

    /// A keep-alive connection that asks nothing more after its answer is closed once the
    /// header-read timeout is over (its wait for the next head counts from the answer), before
    /// the idle timeout would.
    #[tokio::test(start_paused = true)]
    async fn an_idle_keep_alive_connection_is_closed_after_the_head_timeout() {
        let addr = serve_ok(MAX_CONNECTIONS).await;
        let mut client = TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(HEADER_READ_TIMEOUT / 2).await;
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 512];
        let read = client.read(&mut buf).await.unwrap();
        assert!(buf[..read].starts_with(b"HTTP/1.1 200"));
        let answered = tokio::time::Instant::now();
        let read = tokio::time::timeout(2 * IDLE_READ_TIMEOUT, client.read(&mut buf)).await;
        assert_eq!(read.expect("closed in time").unwrap_or(0), 0);
        let took = answered.elapsed();
        assert!(
            took >= HEADER_READ_TIMEOUT && took < HEADER_READ_TIMEOUT + Duration::from_secs(1),
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

    /// A keep-alive connection that asks again every 15 s stays open past the idle and the
    /// header-read timeouts: each request moves its deadline (on a paused clock).
    #[tokio::test(start_paused = true)]
    async fn a_connection_in_use_is_kept() {
        let addr = serve_ok(MAX_CONNECTIONS).await;
        let mut client = TcpStream::connect(addr).await.unwrap();
        for round in 0..6 {
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
            tokio::time::sleep(HEADER_READ_TIMEOUT * 3 / 4).await;
        }
    }
}
