//! A deadline for reading a request's body (`GATEHOUSE_REQUEST_BODY_TIMEOUT`).
//! actix closes a connection whose request *head* is slow, but a body sent
//! a byte at a time would hold its connection (and a worker's attention)
//! for as long as the sender likes. Every body must arrive within the
//! deadline, counted from the head's arrival; a later one is answered
//! `408 Request Timeout` (RFC 9110 §15.5.9), as RFC 6749 §5.2 JSON where
//! the endpoint answers JSON and as a small page elsewhere, and the
//! connection is closed.

use crate::app::AppState;
use crate::oauth::OAuthError;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes};
use actix_web::{HttpMessage, HttpResponse, ResponseError};
use futures_util::Stream;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::time::{Instant, Sleep};

/// A request body stream that fails once `deadline` has passed, and
/// records that it did.
struct Deadline {
    inner: Payload,
    deadline: Instant,
    /// Made on the first wait: a body that is already here costs no timer.
    sleep: Option<Pin<Box<Sleep>>>,
    expired: Arc<AtomicBool>,
}

impl Deadline {
    fn expire(&mut self) -> Poll<Option<Result<Bytes, PayloadError>>> {
        self.expired.store(true, Ordering::Relaxed);
        Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the request body did not arrive in time",
        )))))
    }
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.expired.load(Ordering::Relaxed) || Instant::now() >= this.deadline {
            // Checked before reading, so a trickle that always has a byte
            // ready is cut too.
            return this.expire();
        }
        if let Poll::Ready(item) = Pin::new(&mut this.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        let deadline = this.deadline;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => this.expire(),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Whether a request can carry a body worth a deadline.
fn has_body(req: &ServiceRequest) -> bool {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    let headers = req.headers();
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    length != Some(0) && (length.is_some() || headers.contains_key(header::TRANSFER_ENCODING))
}

/// The middleware: wraps the body of every request that has one.
pub async fn body_deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let timeout = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.config.request_body_timeout);
    let (Some(timeout), true) = (timeout, has_body(&req)) else {
        return next.call(req).await.map(|r| r.map_into_left_body());
    };
    let expired = Arc::new(AtomicBool::new(false));
    let inner = req.take_payload();
    let stream: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(Deadline {
        inner,
        deadline: Instant::now() + std::time::Duration::from_secs(timeout.max(1) as u64),
        sleep: None,
        expired: Arc::clone(&expired),
    });
    req.set_payload(Payload::from(stream));
    let res = next.call(req).await?;
    if !expired.load(Ordering::Relaxed) {
        return Ok(res.map_into_left_body());
    }
    tracing::info!(path = %res.request().path(), "request body timed out");
    let json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    let mut answer = if json {
        super::error::ApiError(OAuthError::RequestTimeout).error_response()
    } else {
        HttpResponse::RequestTimeout()
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(
                "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">\
                 <title>Request timeout</title><h1>Request timeout</h1>\
                 <p>The form took too long to arrive. Go back and send it again.</p></html>",
            )
    };
    // The rest of the body may still be on its way: do not read it as the
    // next request.
    answer
        .head_mut()
        .set_connection_type(actix_web::http::ConnectionType::Close);
    let (req, _) = res.into_parts();
    Ok(ServiceResponse::new(req, answer).map_into_right_body())
}
