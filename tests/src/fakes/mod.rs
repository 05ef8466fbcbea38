//! Loopback fakes of the external imputation-service APIs, for end-to-end tests.
//!
//! Each fake binds `127.0.0.1:0`, keeps its data in one `Arc<Mutex<State>>`, and builds its
//! axum router in one `router` function, so job routes can be added to it later. Every fake
//! counts the requests it receives per URI path ([`cloudgene::FakeCloudgene::hits`] and
//! friends) and can inject a [`Fault`] into its health-probe endpoint.

pub mod cloudgene;
pub mod dnastack;
pub mod smtp;
pub mod wes;

use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A fault injected into a fake's probe endpoint.
#[derive(Clone, Debug, Default)]
pub enum Fault {
    /// No fault: the endpoint answers normally.
    #[default]
    None,
    /// Reply with this HTTP status, body and content type (e.g. 500 "boom" text/plain, or 502 nginx HTML).
    Status(u16, String, &'static str),
    /// A 200 reply that is not JSON (an HTML page, as a misrouted base URL gives).
    NonJson,
    /// Answer normally, but only after this delay (tokio::time::sleep is fine inside a fake).
    Delay(std::time::Duration),
    /// Never answer (until the client gives up and closes the connection).
    Hang,
    /// For submissions: the job is created (and counted), then the reply never comes.
    HangAfterAccept,
    /// For submissions: the job is created (and counted), then the connection is closed
    /// without a usable reply (the reply body breaks off), as after a reset.
    CloseAfterAccept,
}

impl Fault {
    /// A 502 Bad Gateway page as nginx renders it, for a fake sitting "behind a proxy".
    pub fn nginx_bad_gateway() -> Self {
        Self::Status(502, NGINX_502.to_owned(), "text/html")
    }
}

const NGINX_502: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n\
<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.24.0</center>\r\n</body>\r\n</html>\r\n";

const NON_JSON_PAGE: &str = "<!DOCTYPE html>\n<html><head><title>Welcome</title></head>\n\
<body><h1>It works!</h1><p>This is not the API you are looking for.</p></body></html>\n";

/// Faults scripted per route of a fake: a standing fault, and a queue of one-shot faults
/// that are used up first ("the next N requests"). Route names are each fake's own
/// constants (`"submit"`, `"status"`, `"list"`...).
#[derive(Debug, Default)]
pub(crate) struct FaultPlan {
    standing: std::collections::HashMap<String, Fault>,
    queued: std::collections::HashMap<String, std::collections::VecDeque<Fault>>,
}

impl FaultPlan {
    /// Sets the fault every request to `route` gets (`Fault::None` clears it).
    pub(crate) fn set(&mut self, route: &str, fault: Fault) {
        self.standing.insert(route.to_owned(), fault);
    }

    /// The next `times` requests to `route` get `fault`, then it answers as before.
    pub(crate) fn push(&mut self, route: &str, fault: Fault, times: usize) {
        let queue = self.queued.entry(route.to_owned()).or_default();
        queue.extend(std::iter::repeat_n(fault, times));
    }

    /// The fault for this request to `route` (consuming a one-shot one first).
    pub(crate) fn next(&mut self, route: &str) -> Fault {
        if let Some(fault) = self.queued.get_mut(route).and_then(|q| q.pop_front()) {
            return fault;
        }
        self.standing.get(route).cloned().unwrap_or_default()
    }
}

/// A reply whose body breaks off at once: the client sees the connection fail.
pub(crate) fn broken_reply() -> Response {
    let body = futures::stream::once(async {
        Err::<bytes::Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "fake: connection reset",
        ))
    });
    let mut response = Response::new(Body::from_stream(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

/// How long `stop()` waits for in-flight requests before abandoning them.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Applies `fault` to a request: `Some(response)` replaces the normal answer; `None` means
/// "answer normally" (after sleeping, for [`Fault::Delay`]).
pub(crate) async fn apply_fault(fault: Fault) -> Option<Response> {
    match fault {
        Fault::None | Fault::HangAfterAccept | Fault::CloseAfterAccept => None,
        Fault::Hang => std::future::pending().await,
        Fault::Delay(delay) => {
            tokio::time::sleep(delay).await;
            None
        }
        Fault::NonJson => Some(
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                NON_JSON_PAGE,
            )
                .into_response(),
        ),
        Fault::Status(code, body, content_type) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = status;
            if let Ok(value) = header::HeaderValue::from_str(content_type) {
                response.headers_mut().insert(header::CONTENT_TYPE, value);
            }
            Some(response)
        }
    }
}

/// A JSON reply with the given status.
pub(crate) fn json_reply(status: StatusCode, body: serde_json::Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// Locks a fake's state, ignoring poisoning (a panicking test must not wedge the fake).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Binds an ephemeral loopback port; returns the listener and its `http://127.0.0.1:<port>` URL.
pub(crate) async fn bind_loopback() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a fake server must be able to bind a loopback port");
    let addr = listener
        .local_addr()
        .expect("a bound listener has a local address");
    (listener, format!("http://{addr}"))
}

/// A running axum server on a loopback listener, shut down gracefully by [`Loopback::stop`]
/// (or, less tidily, when dropped).
#[derive(Debug)]
pub(crate) struct Loopback {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Loopback {
    /// Serves `router` on `listener` in a background task.
    pub(crate) fn serve(listener: TcpListener, router: Router) -> Self {
        let addr = listener
            .local_addr()
            .expect("a bound listener has a local address");
        let (shutdown, signal) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    // Either an explicit stop or the sender being dropped ends the server.
                    let _ = signal.await;
                })
                .await;
            if let Err(error) = served {
                tracing::warn!(%addr, %error, "fake server ended with an error");
            }
        });
        Self {
            addr,
            shutdown: Some(shutdown),
            task: Some(task),
        }
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub(crate) fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections, closes the listener and waits for the server task, so
    /// that connecting to the port afterwards is refused.
    pub(crate) async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            // The listener is dropped as soon as the signal is seen; in-flight requests
            // (e.g. a long Fault::Delay) get a grace period, then are abandoned.
            if tokio::time::timeout(STOP_GRACE, task).await.is_err() {
                abort.abort();
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! A minimal HTTP/1.1 client over a blocking `std::net::TcpStream`, so the fakes' tests
    //! exercise the real listener without extra dependencies.

    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    /// A parsed HTTP reply.
    #[derive(Debug)]
    pub(crate) struct Reply {
        pub(crate) status: u16,
        pub(crate) headers: Vec<(String, String)>,
        pub(crate) body: String,
    }

    impl Reply {
        /// The body parsed as JSON (`Null` when it is not JSON).
        pub(crate) fn json(&self) -> serde_json::Value {
            serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
        }

        /// The first header with this (case-insensitive) name.
        pub(crate) fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    /// Sends one request (`Connection: close`) and reads the whole reply.
    pub(crate) async fn request(
        base: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> std::io::Result<Reply> {
        let host = base.trim_start_matches("http://").to_owned();
        let mut raw = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            raw.push_str(&format!("{name}: {value}\r\n"));
        }
        raw.push_str("\r\n");
        raw.push_str(body);
        tokio::task::spawn_blocking(move || exchange(&host, &raw))
            .await
            .map_err(std::io::Error::other)?
    }

    fn exchange(host: &str, raw: &str) -> std::io::Result<Reply> {
        let mut stream = TcpStream::connect(host)?;
        stream.set_read_timeout(Some(Duration::from_secs(20)))?;
        stream.write_all(raw.as_bytes())?;
        let mut bytes = Vec::new();
        stream.read_to_end(&mut bytes)?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text.as_str(), ""));
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        Ok(Reply {
            status,
            headers,
            body: body.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::testing::request;
    use super::*;

    #[tokio::test]
    async fn stop_closes_the_port() {
        let (listener, base) = bind_loopback().await;
        let router = Router::new().route("/ping", axum::routing::get(|| async { "pong" }));
        let server = Loopback::serve(listener, router);
        assert_eq!(server.base_url(), base);
        let reply = request(&base, "GET", "/ping", &[], "")
            .await
            .expect("server answers");
        assert_eq!((reply.status, reply.body.as_str()), (200, "pong"));
        server.stop().await;
        let refused = request(&base, "GET", "/ping", &[], "")
            .await
            .expect_err("port is closed");
        assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    }

    #[tokio::test]
    async fn faults_render_as_configured() {
        let reply = apply_fault(Fault::Status(500, "boom".into(), "text/plain")).await;
        let reply = reply.expect("a status fault replaces the answer");
        assert_eq!(reply.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let bad = apply_fault(Fault::Status(42, String::new(), "text/plain")).await;
        assert_eq!(
            bad.map(|r| r.status()),
            Some(StatusCode::INTERNAL_SERVER_ERROR)
        );
        assert!(apply_fault(Fault::None).await.is_none());
        assert!(
            apply_fault(Fault::Delay(Duration::from_millis(1)))
                .await
                .is_none()
        );
        let html = apply_fault(Fault::NonJson)
            .await
            .expect("non-JSON replaces the answer");
        assert_eq!(html.status(), StatusCode::OK);
    }
}
