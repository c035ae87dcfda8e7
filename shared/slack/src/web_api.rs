//! Slack's Web API with a bot token: `chat.postMessage`, `users.lookupByEmail`,
//! `conversations.open`.
//!
//! Slack's own semantics, as its docs give them (docs.slack.dev/apis/web-api,
//! /apis/web-api/rate-limits, and each method's page):
//! * the token goes in `Authorization: Bearer`; `chat.postMessage` and
//!   `conversations.open` take JSON bodies, `users.lookupByEmail` a query string;
//! * an answer is HTTP 200 with `{"ok": false, "error": "…"}` for most failures: an
//!   error, not a success;
//! * over a method's limit Slack answers HTTP 429 with `Retry-After` (seconds), before
//!   acting: waited out and retried, as is an `ok:false` `ratelimited`;
//! * limits are per method and workspace: `chat.postMessage` about one message a second
//!   per channel, `users.lookupByEmail` and `conversations.open` Tier 3 (50+ a
//!   minute). Each is paced by a limiter of its own;
//! * an error no retry can fix is final and names what to do: a refused token
//!   (`invalid_auth`, `not_authed`, `token_revoked`, …) names the secret's
//!   `slack_bot_token`, a missing scope names the scope, a channel the app is not in says
//!   to invite it; `users_not_found` is an answer (no such person), not an error.
//!
//! Reads (`users.lookupByEmail`) and `conversations.open` (which returns the same
//! conversation however often it is called) are repeated after a 5xx or a timeout;
//! `chat.postMessage` never is once Slack may have the message.

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::SlackMessage;
use crate::client::{Attempt, SlackClient, SlackError};

/// Tier 3: "50+ per minute".
const TIER_3_PER_SECOND: f64 = 50.0 / 60.0;
/// Tier 4: "100+ per minute".
pub(crate) const TIER_4_PER_SECOND: f64 = 100.0 / 60.0;

/// Errors that say the token itself is refused: a person fixes the secret.
const TOKEN_REFUSED: &[&str] = &[
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "no_permission",
    "missing_scope",
    "not_allowed_token_type",
];

/// Errors Slack gives when it may have acted before failing.
const MAY_HAVE_ACTED: &[&str] = &[
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
];

/// Which calls may be sent again when their answer is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// Sending it twice does what sending it once does.
    Safe,
    /// Sending it twice may post twice.
    Unsafe,
}

impl SlackClient {
    /// Posts `message` to `channel` (an id, a `#name`, or a DM's id) as the bot;
    /// returns the channel id Slack posted in.
    pub async fn post_message(
        &self,
        token: &SecretString,
        channel: &str,
        message: &SlackMessage,
    ) -> Result<String, SlackError> {
        let mut body = json!({ "channel": channel, "text": message.text });
        if !message.blocks.is_empty() {
            body["blocks"] = Value::Array(message.blocks.clone());
        }
        // Slack's pace is per channel: one message a second.
        let pace = format!("chat.postMessage {channel}");
        let answer = self
            .web_api(
                token,
                "chat.postMessage",
                Request::Json(body),
                &pace,
                self.config.per_second,
                Repeat::Unsafe,
            )
            .await?;
        self.count_posted();
        if let Some(sent) = &self.sent {
            sent.push(channel.to_owned(), message);
        }
        Ok(answer["channel"].as_str().unwrap_or(channel).to_owned())
    }

    /// The Slack user with this email address, if there is one in the workspace.
    pub async fn lookup_user_by_email(
        &self,
        token: &SecretString,
        email: &str,
    ) -> Result<Option<String>, SlackError> {
        let answer = self
            .web_api(
                token,
                "users.lookupByEmail",
                Request::Query(vec![("email", email.to_owned())]),
                "users.lookupByEmail",
                TIER_3_PER_SECOND,
                Repeat::Safe,
            )
            .await;
        match answer {
            Ok(answer) => Ok(answer["user"]["id"].as_str().map(str::to_owned)),
            Err(SlackError::Api { error, .. }) if error == "users_not_found" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The id of the bot's direct-message conversation with `user`, opened if needed.
    pub async fn open_dm(&self, token: &SecretString, user: &str) -> Result<String, SlackError> {
        let answer = self
            .web_api(
                token,
                "conversations.open",
                Request::Json(json!({ "users": user })),
                "conversations.open",
                TIER_3_PER_SECOND,
                Repeat::Safe,
            )
            .await?;
        answer["channel"]["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| SlackError::Api {
                method: "conversations.open",
                error: "no channel id in the answer".into(),
                hint: "",
            })
    }

    pub(crate) async fn web_api(
        &self,
        token: &SecretString,
        method: &'static str,
        request: Request,
        pace: &str,
        per_second: f64,
        repeat: Repeat,
    ) -> Result<Value, SlackError> {
        let limiter = self.limiter_for(token, pace, per_second);
        self.paced(&limiter, method, || {
            self.send_web(token, method, &request, repeat)
        })
        .await
    }

    async fn send_web(
        &self,
        token: &SecretString,
        method: &'static str,
        request: &Request,
        repeat: Repeat,
    ) -> Result<Value, Attempt> {
        let url = format!("{}/{method}", self.config.api_base.trim_end_matches('/'));
        let builder = match request {
            Request::Json(body) => self.http.post(url).json(body),
            Request::Query(query) => self.http.get(url).query(query),
        };
        let lost = |what: String| match repeat {
            Repeat::Safe => Err(Attempt::Again(SlackError::Unavailable { status: 0 })),
            Repeat::Unsafe => Err(Attempt::Final(SlackError::Unconfirmed { what })),
        };
        let response = match builder.bearer_auth(token.expose_secret()).send().await {
            Ok(r) => r,
            Err(e) if e.is_connect() => {
                return Err(Attempt::Again(SlackError::Unreachable(e.without_url())));
            }
            Err(e) if e.is_timeout() => return lost("no answer in time".into()),
            Err(_) => return lost("the connection failed after sending".into()),
        };
        let status = response.status().as_u16();
        let retry_after = crate::client::retry_after_of(&response);
        if status == 429 {
            return Err(Attempt::RateLimited(retry_after));
        }
        if status >= 500 {
            return lost(format!("HTTP {status}"));
        }
        let answer: Value = match response.json().await {
            Ok(v) => v,
            Err(_) if status == 200 => return lost("an answer that is not JSON".into()),
            Err(_) => {
                return Err(Attempt::Final(SlackError::Rejected {
                    status,
                    body: String::new(),
                }));
            }
        };
        if answer["ok"].as_bool() == Some(true) {
            return Ok(answer);
        }
        let error = answer["error"]
            .as_str()
            .unwrap_or("unknown_error")
            .to_owned();
        if error == "ratelimited" {
            return Err(Attempt::RateLimited(retry_after));
        }
        if MAY_HAVE_ACTED.contains(&error.as_str()) {
            return lost(format!("{method}: {error}"));
        }
        if TOKEN_REFUSED.contains(&error.as_str()) {
            return Err(Attempt::Final(SlackError::Token {
                method,
                error,
                needed: answer["needed"].as_str().map(str::to_owned),
            }));
        }
        let hint = match error.as_str() {
            "not_in_channel" => "invite the app to the channel (/invite @app)",
            "channel_not_found" => "check the channel in the route, and that the app may see it",
            "is_archived" => "the channel is archived: route the stage to another one",
            "file_not_found" => "the upload was not finished or was shared already",
            _ => "",
        };
        Err(Attempt::Final(SlackError::Api {
            method,
            error,
            hint,
        }))
    }
}

pub(crate) enum Request {
    Json(Value),
    Query(Vec<(&'static str, String)>),
}
