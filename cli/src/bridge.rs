//! Plain HTTP in front of the Lambda handlers: the local server hands each request to
//! the same handler code the deployed functions run, shaped as API Gateway shapes it
//! (the caller's address in the request context), and passes the answer back whole
//! (status, headers — a redirect's `Location`, CORS — and body).

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use lambda_http::RequestExt;
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayV2httpRequestContext, ApiGatewayV2httpRequestContextHttpDescription,
};
use lambda_http::request::RequestContext;

/// The request as the handlers take it (what `lambda_http` builds from an event).
pub fn to_lambda(
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    peer: Option<SocketAddr>,
) -> lambda_http::Request {
    let mut request = lambda_http::Request::new(lambda_http::Body::Binary(body.to_vec()));
    *request.method_mut() = method.clone();
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    let Some(peer) = peer else {
        return request;
    };
    let mut context = ApiGatewayV2httpRequestContext::default();
    let mut http = ApiGatewayV2httpRequestContextHttpDescription::default();
    http.method = method;
    http.source_ip = Some(peer.ip().to_string());
    context.http = http;
    request.with_request_context(RequestContext::ApiGatewayV2(context))
}

/// The handler's response as plain HTTP.
pub fn from_lambda(response: lambda_http::Response<lambda_http::Body>) -> Response {
    let status = StatusCode::from_u16(response.status().as_u16())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut headers = HeaderMap::new();
    for (name, value) in response.headers() {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(name, value);
        }
    }
    if !headers.contains_key("content-type") && !response.body().as_ref().is_empty() {
        headers.insert("content-type", HeaderValue::from_static("application/json"));
    }
    let body: &[u8] = response.body().as_ref();
    let mut plain = Response::new(axum::body::Body::from(body.to_vec()));
    *plain.status_mut() = status;
    *plain.headers_mut() = headers;
    plain
}
