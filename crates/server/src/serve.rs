//! Serving connections: http/1.1 and h2 through hyper, with the limits of [`super::limits`]
//! on every connection, and a graceful stop (requests in flight finish, no new ones start).

use std::{
    convert::Infallible,
    future::{Future, poll_fn},
    io,
    pin::pin,
    task::Poll,
    time::Duration,
};

use axum::{
    body::Body,
    extract::Request,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use tower::{Service, ServiceExt as _};

use super::{
    limits::{MAX_HEAD_BYTES, REQUEST_TIMEOUT},
    tls::{Listener, Transport},
};

/// Serves `service` on every connection `listener` accepts until `stop` completes, then lets
/// the requests in flight finish.
pub async fn serve<S>(
    mut listener: Listener,
    service: S,
    stop: impl Future<Output = ()>,
) -> io::Result<()>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let builder = builder();
    let graceful = GracefulShutdown::new();
    let mut stop = pin!(stop);
    loop {
        let (io, addr) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
        };
        let service = service.clone();
        let transport = Transport { tls: io.is_tls() };
        let place = io.place();
        let service = tower::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(transport);
            // Mid-request, the connection is not one to close for a newcomer.
            let busy = place.busy();
            let answer = within_time(service.clone(), request.map(Body::new), REQUEST_TIMEOUT);
            async move {
                let answer = answer.await;
                drop(busy);
                answer
            }
        });
        let connection = builder
            .serve_connection(TokioIo::new(io), TowerToHyperService::new(service))
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(%addr, "{}", in_our_words(err.as_ref()));
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// hyper's connection settings with the lab's limits.
fn builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // No timer for http/1: hyper would arm its header-read timeout (30 s by default) at every
    // request; the connection keeps [`HEADER_READ_TIMEOUT`] itself (`tls::Connection`).
    builder
        .http1()
        .header_read_timeout(None)
        .max_buf_size(MAX_HEAD_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(MAX_HEAD_BYTES).unwrap_or(u32::MAX));
    builder
}

/// Answers `request` with `service`, or with a 408 page when that takes longer than `limit`.
async fn within_time<S>(
    service: S,
    request: Request,
    limit: Duration,
) -> Result<Response, Infallible>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    let mut answer = pin!(service.oneshot(request));
    // Most answers are ready at their first poll (a memory store, no session lock to wait
    // for): they never read the clock or arm a timer. The limit then runs from the first poll
    // that has to wait, which is microseconds after the request arrived.
    if let Poll::Ready(answer) = poll_fn(|cx| Poll::Ready(answer.as_mut().poll(cx))).await {
        return answer;
    }
    match tokio::time::timeout(limit, answer).await {
        Ok(answer) => answer,
        Err(_) => Ok((
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "Request Timeout: the request took over {} s",
                limit.as_secs()
            ),
        )
            .into_response()),
    }
}

/// Why a connection ended early, as the lab says it (hyper's own words name its internals).
fn in_our_words(err: &(dyn std::error::Error + 'static)) -> String {
    match err.downcast_ref::<hyper::Error>() {
        Some(err) if err.is_parse_too_large() => format!(
            "a request head over {} KiB: answered 431 and closed",
            MAX_HEAD_BYTES / 1024
        ),
        // The connection's own limits (`tls::Connection`) say which ran out.
        Some(err)
            if let Some(io) = io_cause(err).filter(|io| io.kind() == io::ErrorKind::TimedOut) =>
        {
            format!("{io}: closed")
        }
        Some(err) if err.is_parse() => "a request that is not HTTP: answered 400 and closed".into(),
        Some(err) if err.is_incomplete_message() => "the client left mid-request".into(),
        _ => format!("the connection ended: {err}"),
    }
}

/// The I/O error behind a connection's end, if one is.
fn io_cause(err: &hyper::Error) -> Option<&io::Error> {
    let mut cause = std::error::Error::source(err);
    while let Some(err) = cause {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            return Some(io);
        }
        cause = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use axum::routing::get;

    use super::*;

    /// A request whose handler takes longer than the limit is answered 408 in the lab's words,
    /// and one within it is answered as usual (on a paused clock).
    #[tokio::test(start_paused = true)]
    async fn a_request_over_its_time_is_answered_408() {
        let app = axum::Router::new()
            .route(
                "/slow",
                get(|| tokio::time::sleep(Duration::from_secs(3600))),
            )
            .route("/", get(|| async { "ok" }));
        let limit = Duration::from_secs(5);
        let slow = Request::get("/slow").body(Body::empty()).unwrap();
        let answer = within_time(app.clone(), slow, limit).await.unwrap();
        assert_eq!(answer.status(), StatusCode::REQUEST_TIMEOUT);
        let body = axum::body::to_bytes(answer.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(&body[..], b"Request Timeout: the request took over 5 s");
        let quick = Request::get("/").body(Body::empty()).unwrap();
        let answer = within_time(app, quick, limit).await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
    }
}
