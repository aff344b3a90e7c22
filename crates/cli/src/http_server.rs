//! The API's HTTP server: the axum router served on hyper's HTTP/1.1 connections, with the
//! bounds `axum::serve` does not set.
//!
//! - **At most [`CONNECTIONS_MAX`] connections at once.** Past it, the server stops accepting
//!   until one closes; new connections wait in the kernel's backlog.
//! - **Headers within [`HEADER_READ_TIMEOUT`].** A client that opens a connection and sends a
//!   request's headers slowly, or never finishes them, is disconnected: half-sent requests
//!   cannot hold connections (and memory) open.
//! - Each request carries its peer address (`ConnectInfo<SocketAddr>`), which sign-in
//!   attempts are limited by.

use axum::{Router, extract::ConnectInfo};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::{sync::Arc, time::Duration};
use tower::ServiceExt as _;

/// Most connections served at once.
pub const CONNECTIONS_MAX: usize = 4_096;
/// How long a client has to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until the task is dropped, which ends every connection too.
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
    let permits = Arc::new(tokio::sync::Semaphore::new(CONNECTIONS_MAX));
    // The connections' tasks: dropped with this future (the node stopping), they are aborted.
    let mut connections = tokio::task::JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .expect("the connection semaphore is never closed");
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors, say: wait rather than spin.
                tracing::warn!(%err, "cannot accept an HTTP connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        connections.spawn(async move {
            let _permit = permit;
            let service =
                hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    router.clone().oneshot(request.map(axum::body::Body::new))
                });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            if let Err(err) = connection.await {
                tracing::debug!(%peer, %err, "HTTP connection ended");
            }
        });
    }
}
