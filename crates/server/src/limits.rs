//! Every limit the embedded server sets on its clients, in one place, each with the trusted
//! server it follows. A client that breaks one is closed (or answered 408/431) and the server
//! goes on serving everyone else.

use std::time::Duration;

/// How long a new connection may take to send its first byte (Apache's `mod_reqtimeout`,
/// `header=20`): a client that connects and says nothing is closed then, not held for good.
/// With every place taken it goes sooner, to make room (`places.rs`).
pub const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a TLS handshake may take once it started (nginx's `ssl_handshake_timeout`, 60 s).
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a request head may take to arrive whole, however steadily it drips (Apache's
/// `mod_reqtimeout`, `header=20-40`: 20 s, which Apache extends to 40 only for a client
/// sending at least 500 bytes a second; Node's `headersTimeout` and nginx's
/// `client_header_timeout` are 60 s). A head is a few hundred bytes sent at once; 20 s is
/// generous to any honest client and keeps a stalled one's place for a third of the time. It
/// is also how long a keep-alive connection may wait for its next request (hyper's timer
/// starts as the connection waits for a head; Apache's `KeepAliveTimeout` is 5 s); browsers
/// open a new connection when an idle one was closed.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a connection may go without sending a byte before it is closed: a request left
/// half-sent, or a keep-alive connection left idle (nginx's `keepalive_timeout`, 75 s, and
/// `client_body_timeout`, 60 s).
pub const IDLE_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// How long one request may take from its head to its answer, body and store included; after
/// that it is answered 408 (Node's `requestTimeout`, 300 s).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// The largest request head read, request line and headers together; a larger one is answered
/// 431 (nginx reads up to 4 × 8 KiB, Node 16 KiB; more here, so a lab whose browsers hold many
/// cookies still fits, and far below hyper's default of about 400 KiB).
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// How many connections are served at once (nginx's default `worker_connections`, 512). With
/// every place taken, the connection waiting longest for a request head is closed to make
/// room, as nginx closes idle keep-alive connections when it runs out; with every one
/// mid-request, newcomers wait in the kernel's queue. Never more than half the process's
/// open-file limit (see [`connection_places`]).
pub const MAX_CONNECTIONS: usize = 512;

/// How long the listener waits before accepting again after an error such as "too many open
/// files" (EMFILE): the connections it serves meanwhile close and free their descriptors
/// (axum's own `serve` waits 1 s).
pub const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// How many connections to serve at once: [`MAX_CONNECTIONS`], or half the process's limit on
/// open files when that is lower, so the store, the browsers and the window keep descriptors
/// of their own even with every place taken.
pub fn connection_places() -> usize {
    open_file_limit().map_or(MAX_CONNECTIONS, |limit| {
        MAX_CONNECTIONS.min(usize::try_from(limit / 2).unwrap_or(usize::MAX).max(1))
    })
}

/// The process's soft limit on open files, where the platform has one.
#[cfg(unix)]
fn open_file_limit() -> Option<libc::rlim_t> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit through a valid pointer.
    let status = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    (status == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

#[cfg(not(unix))]
fn open_file_limit() -> Option<u64> {
    None
}
