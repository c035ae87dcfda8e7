//! Both HTTP stacks of a bootstrap — the AWS SDK's (through `sdk_config`) and reqwest's
//! (the Notion and Slack clients) — complete a TLS handshake and a request with the one
//! crypto provider the functions carry (ring), trusting the system's certificates. Every
//! other test talks plain HTTP to local servers, so without this one a provider that
//! could not make a handshake would pass them all and fail on the first real call.
//!
//! The server's certificate is issued by a test CA (`fixtures/tls`, valid until 2126)
//! that the clients trust through `SSL_CERT_FILE`, the variable the system certificate
//! loaders read: the test runs itself again as a child process with it set.

use std::process::Command;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls");
const CHILD: &str = "CRM_TLS_TEST_CHILD";

#[test]
fn the_sdk_and_reqwest_make_tls_calls_with_the_one_provider() {
    if std::env::var_os(CHILD).is_some() {
        return tokio::runtime::Runtime::new().unwrap().block_on(calls());
    }
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "the_sdk_and_reqwest_make_tls_calls_with_the_one_provider",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .env("SSL_CERT_FILE", format!("{FIXTURES}/ca.pem"))
        .env_remove("SSL_CERT_DIR")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .status()
        .unwrap();
    assert!(status.success(), "the TLS calls failed (output above)");
}

/// Answers every request on one TLS connection with a Secrets Manager answer.
async fn serve(acceptor: TlsAcceptor, stream: tokio::net::TcpStream) {
    let Ok(mut tls) = acceptor.accept(stream).await else {
        return;
    };
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let Ok(n) = tls.read(&mut buf).await else {
            return;
        };
        if n == 0 {
            return;
        }
        seen.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&seen);
        let Some(head_end) = text.find("\r\n\r\n") else {
            continue;
        };
        let length = text[..head_end]
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        if seen.len() < head_end + 4 + length {
            continue;
        }
        let body = r#"{"ARN":"arn:aws:secretsmanager:us-east-1:000000000000:secret:crm","Name":"crm","SecretString":"{}","VersionId":"v1"}"#;
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        let _ = tls.write_all(answer.as_bytes()).await;
        seen.clear();
    }
}

async fn calls() {
    let certs = CertificateDer::pem_file_iter(format!("{FIXTURES}/server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(format!("{FIXTURES}/server.key")).unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(acceptor.clone(), stream));
        }
    });

    let config = aws_sdk_secretsmanager::config::Builder::from(&crm_settings::sdk_config().await)
        .endpoint_url(&url)
        .build();
    let secret = aws_sdk_secretsmanager::Client::from_conf(config)
        .get_secret_value()
        .secret_id("crm")
        .send()
        .await
        .expect("the SDK's call over TLS");
    assert_eq!(secret.secret_string(), Some("{}"));

    let answer = crm_http::client()
        .get(&url)
        .send()
        .await
        .expect("reqwest's call over TLS");
    assert_eq!(answer.status(), 200);
}
