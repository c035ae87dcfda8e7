//! Plain HTTP in front of the Lambda handlers: the local server hands each request to
//! the same handler code the deployed functions run.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// The request as the handlers take it (what `lambda_http` builds from an event).
pub fn to_lambda(
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> lambda_http::Request {
    let mut request = lambda_http::Request::new(lambda_http::Body::Binary(body.to_vec()));
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    request
}

/// The handler's response as plain HTTP.
pub fn from_lambda(response: lambda_http::Response<lambda_http::Body>) -> Response {
    let status = StatusCode::from_u16(response.status().as_u16())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body: &[u8] = response.body().as_ref();
    (
        status,
        [("content-type", "application/json")],
        body.to_vec(),
    )
        .into_response()
}
