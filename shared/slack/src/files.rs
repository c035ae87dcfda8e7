//! Sharing a file (the weekly report's chart) with Slack's current upload flow, as its
//! method pages give it (docs.slack.dev/reference/methods/files.getUploadURLExternal and
//! files.completeUploadExternal; scope `files:write`):
//!
//! 1. `files.getUploadURLExternal` with the file's `filename` and `length` answers an
//!    `upload_url` and a `file_id`;
//! 2. the bytes are POSTed to `upload_url` (raw bytes or a multipart form): HTTP 200;
//! 3. `files.completeUploadExternal` with `files: [{id, title}]` and a `channel_id`
//!    shares it, with `blocks` (or `initial_comment`) as the message it comes with.
//!    "If this method is not called, the uploaded file … will be discarded", and it
//!    "can only be called once".
//!
//! So nothing is shared before step 3: steps 1 and 2 are repeated freely after a lost
//! answer (a new URL, the same bytes again), and step 3 never is once Slack may have
//! acted — the caller's claim (`post_once`) decides whether it is tried at all.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Value, json};

use crate::SlackMessage;
use crate::client::{Attempt, SlackClient, SlackError};
use crate::web_api::{Repeat, Request, TIER_4_PER_SECOND};

/// A file to share in a channel.
#[derive(Debug, Clone)]
pub struct Upload<'a> {
    pub filename: &'a str,
    pub title: &'a str,
    /// What a screen reader says of an image.
    pub alt_text: &'a str,
    pub bytes: &'a [u8],
    /// The message it is shared with (its blocks, or its text without).
    pub message: Option<&'a SlackMessage>,
}

impl SlackClient {
    /// Uploads `file` and shares it in `channel_id` (an id: Slack takes no name here).
    pub async fn upload_file(
        &self,
        token: &SecretString,
        channel_id: &str,
        file: &Upload<'_>,
    ) -> Result<(), SlackError> {
        let asked = self
            .web_api(
                token,
                "files.getUploadURLExternal",
                Request::Json(json!({
                    "filename": file.filename,
                    "length": file.bytes.len(),
                    "alt_txt": file.alt_text,
                })),
                "files.getUploadURLExternal",
                TIER_4_PER_SECOND,
                Repeat::Safe,
            )
            .await?;
        let (Some(url), Some(id)) = (asked["upload_url"].as_str(), asked["file_id"].as_str())
        else {
            return Err(SlackError::Api {
                method: "files.getUploadURLExternal",
                error: "no upload_url or file_id in the answer".into(),
                hint: "",
            });
        };
        let limiter = self.limiter_for(token, "file upload", TIER_4_PER_SECOND);
        self.paced(&limiter, "file upload", || self.send_bytes(url, file.bytes))
            .await?;
        let mut body = json!({
            "files": [{"id": id, "title": file.title}],
            "channel_id": channel_id,
        });
        if let Some(message) = file.message {
            if message.blocks.is_empty() {
                body["initial_comment"] = Value::String(message.text.clone());
            } else {
                body["blocks"] = Value::Array(message.blocks.clone());
            }
        }
        self.web_api(
            token,
            "files.completeUploadExternal",
            Request::Json(body),
            "files.completeUploadExternal",
            TIER_4_PER_SECOND,
            Repeat::Unsafe,
        )
        .await?;
        self.count_posted();
        if let (Some(sent), Some(message)) = (&self.sent, file.message) {
            sent.push(channel_id.to_owned(), message);
        }
        Ok(())
    }

    /// Step 2: the bytes to the upload URL. Shares nothing, so any lost answer is
    /// retried.
    async fn send_bytes(&self, url: &str, bytes: &[u8]) -> Result<(), Attempt> {
        let response = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(bytes.to_vec())
            .timeout(self.config.request_timeout.max(Duration::from_secs(20)))
            .send()
            .await;
        let again = |status| Err(Attempt::Again(SlackError::Unavailable { status }));
        match response {
            Err(e) if e.is_connect() => {
                Err(Attempt::Again(SlackError::Unreachable(e.without_url())))
            }
            Err(_) => again(0),
            Ok(r) if r.status().as_u16() == 429 => {
                Err(Attempt::RateLimited(crate::client::retry_after_of(&r)))
            }
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) if r.status().is_server_error() => again(r.status().as_u16()),
            Ok(r) => Err(Attempt::Final(SlackError::Rejected {
                status: r.status().as_u16(),
                body: String::new(),
            })),
        }
    }
}
