//! Requests as Lambda hands them to the HTTP functions: one builder of the API Gateway
//! HTTP API (payload 2.0) event — the shape Function URLs use too — over the checked-in
//! event `fixtures/apigw-v2-http.json`, and the headers each sender signs with.

use base64::Engine;
use crm_domain::intake::own;
use crm_domain::notion_signature;
use serde_json::{Value, json};

const FIXTURE: &str = include_str!("../fixtures/apigw-v2-http.json");

/// How the body travels in the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// As text.
    Text,
    /// Base64-encoded.
    Base64,
    /// As an HTTP API delivers it: text only for `text/*`, JSON, XML and JavaScript;
    /// every other type — a form's url-encoded or multipart post among them, and a body
    /// with no type — base64-encoded.
    AsGateway,
}

/// One request, built up and then turned into the event or the request.
#[derive(Debug, Clone)]
pub struct HttpEvent {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    encoding: Encoding,
    source_ip: Option<String>,
}

impl HttpEvent {
    /// A POST of `body` to `path`, with no headers but its length.
    pub fn post(path: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            method: "POST".into(),
            path: path.into(),
            headers: Vec::new(),
            body: body.into(),
            encoding: Encoding::Text,
            source_ip: None,
        }
    }

    pub fn method(mut self, method: &str) -> Self {
        self.method = method.into();
        self
    }

    /// Adds headers (names are lower-cased, as the HTTP API delivers them).
    pub fn headers<K: AsRef<str>, V: AsRef<str>>(mut self, headers: &[(K, V)]) -> Self {
        self.headers.extend(
            headers
                .iter()
                .map(|(k, v)| (k.as_ref().to_lowercase(), v.as_ref().to_owned())),
        );
        self
    }

    pub fn encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// The caller's address, as API Gateway sees it.
    pub fn from_ip(mut self, ip: &str) -> Self {
        self.source_ip = Some(ip.into());
        self
    }

    /// The event, as JSON.
    pub fn event(&self) -> Value {
        let mut event: Value = serde_json::from_str(FIXTURE).expect("the fixture is JSON");
        let (method, path) = (&self.method, &self.path);
        event["rawPath"] = json!(path);
        event["routeKey"] = json!(format!("{method} {path}"));
        event["requestContext"]["http"]["path"] = json!(path);
        event["requestContext"]["http"]["method"] = json!(method);
        if let Some(ip) = &self.source_ip {
            event["requestContext"]["http"]["sourceIp"] = json!(ip);
        }
        let map = event["headers"]
            .as_object_mut()
            .expect("the fixture has headers");
        map.remove("content-type");
        map.remove("accept");
        map.insert("content-length".into(), json!(self.body.len().to_string()));
        for (k, v) in &self.headers {
            map.insert(k.clone(), json!(v));
        }
        let base64 = match self.encoding {
            Encoding::Text => false,
            Encoding::Base64 => true,
            Encoding::AsGateway => !self.is_text(),
        };
        event["isBase64Encoded"] = json!(base64);
        event["body"] = if base64 {
            json!(base64::engine::general_purpose::STANDARD.encode(&self.body))
        } else {
            json!(String::from_utf8_lossy(&self.body))
        };
        event
    }

    /// The request, as `lambda_http` reads the event.
    pub fn request(&self) -> lambda_http::Request {
        lambda_http::request::from_str(&self.event().to_string()).expect("a valid event")
    }

    fn is_text(&self) -> bool {
        let content_type = self
            .headers
            .iter()
            .find(|(k, _)| k == "content-type")
            .map(|(_, v)| {
                v.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            });
        content_type.is_some_and(|ct| {
            ct.starts_with("text/")
                || [
                    "application/json",
                    "application/xml",
                    "application/javascript",
                ]
                .contains(&ct.as_str())
        })
    }
}

/// The headers a site's server sends with a lead signed the product's own way
/// (`crm_domain::intake::own`): its JSON type, the timestamp and the signature.
pub fn own_signed(secret: &str, timestamp_secs: i64, body: &[u8]) -> Vec<(&'static str, String)> {
    let ts = timestamp_secs.to_string();
    let signature = own::sign(secret.as_bytes(), &ts, body);
    vec![
        ("content-type", "application/json".into()),
        (own::TIMESTAMP_HEADER, ts),
        (own::SIGNATURE_HEADER, signature),
    ]
}

/// The header Notion signs a delivery with.
pub fn notion_signed(token: &str, body: &[u8]) -> (&'static str, String) {
    (
        notion_signature::HEADER,
        notion_signature::sign(token, body),
    )
}
