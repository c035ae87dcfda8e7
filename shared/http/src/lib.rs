//! The outbound HTTP client every caller builds from (the Notion and Slack clients, the
//! emulator's webhook sender, the tests).
//!
//! A bootstrap carries one TLS stack and one crypto provider: rustls on ring, which the
//! AWS SDK's client uses too (`crm_settings::sdk_config`). ring makes each bootstrap
//! about 0.8 MB smaller than aws-lc-rs for the same TLS 1.2/1.3 suites (see
//! `docs/design.md`). reqwest, built without a provider of its own, takes the process's
//! default provider, which must be installed before the first client is built: this is
//! the one place that does it.

/// How long any outbound connection may take to open; each caller sets its own
/// request timeout on top.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A client builder with the process's crypto provider installed and a connect timeout.
pub fn builder() -> reqwest::ClientBuilder {
    // Fails only when a provider is installed already: ring is the only one linked.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().connect_timeout(CONNECT_TIMEOUT)
}

/// A client with reqwest's defaults (for tests and tools).
pub fn client() -> reqwest::Client {
    builder()
        .build()
        .unwrap_or_else(|e| panic!("the HTTP client cannot be built: {e}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_client_builds_with_ring_as_the_process_provider() {
        let _client = super::client();
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }
}
