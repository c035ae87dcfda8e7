//! The emulator holds a workspace's contacts and ids and listens on 127.0.0.1: a page on
//! another site, open in the same browser, must not read it through a DNS name rebound
//! to 127.0.0.1, nor send it requests of its own. Every route answers only when
//! addressed as 127.0.0.1 or localhost, and only to requests without another origin.

use crm_notion_emulator::{DEFAULT_TOKEN, Emulator, StageKind};

#[tokio::test]
async fn only_requests_addressed_to_loopback_from_no_other_origin_are_answered() {
    let emulator = Emulator::start(0, DEFAULT_TOKEN).await.unwrap();
    let ws = emulator.seed_crm(StageKind::Status);
    let base = emulator.base_url();
    let port = base
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let http = crm_http::builder().build().unwrap();
    let admin = format!(
        "{base}/__admin/data_sources/{}/pages",
        ws.contacts_data_source_id
    );
    let api = format!("{base}/v1/data_sources/{}", ws.contacts_data_source_id);
    let status = |host: String, origin: Option<&'static str>, url: String| {
        let http = http.clone();
        async move {
            let mut request = http
                .get(url)
                .header("host", host)
                .header("authorization", format!("Bearer {DEFAULT_TOKEN}"))
                .header("notion-version", "2026-03-11");
            if let Some(origin) = origin {
                request = request.header("origin", origin);
            }
            request.send().await.unwrap().status().as_u16()
        }
    };
    for url in [admin.clone(), api.clone()] {
        assert_eq!(
            status(format!("127.0.0.1:{port}"), None, url.clone()).await,
            200
        );
        assert_eq!(
            status(format!("localhost:{port}"), None, url.clone()).await,
            200
        );
        assert_eq!(
            status(format!("crm.attacker.test:{port}"), None, url.clone()).await,
            403,
            "a rebound DNS name: {url}"
        );
        assert_eq!(
            status(
                format!("127.0.0.1:{port}"),
                Some("http://evil.test"),
                url.clone()
            )
            .await,
            403,
            "another site's request: {url}"
        );
    }
}
