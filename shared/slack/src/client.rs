use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crm_pacing::{Call, Ending, Heard, Limiter, RetryPolicy, paced, parse_retry_after};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use crate::SlackMessage;

/// Why a message was not posted, after the client's retries. Never contains the URL.
#[derive(Debug, thiserror::Error)]
pub enum SlackError {
    /// Slack refused the message (a bad payload; or a webhook revoked, a channel gone,
    /// which a new webhook in the secret fixes).
    #[error("Slack refused the message: {status} {body}")]
    Rejected { status: u16, body: String },
    /// Rate limited until the retry budget ran out: not posted.
    #[error("Slack answered {status} until the retry budget ran out")]
    Unavailable { status: u16 },
    /// Not sent: the destination's pace had no slot for it within the post's time
    /// budget (many posts queued, or a pause after a 429). Not posted.
    #[error("not sent: Slack's pace for this destination had no room for it in time")]
    Paced,
    /// Slack could not be reached (the connection was refused): not posted.
    #[error("could not reach Slack")]
    Unreachable(#[source] reqwest::Error),
    /// The message was sent but no answer confirmed it (a timeout, a connection cut after
    /// sending, a 5xx): Slack may have posted it. Never retried: a retry could post it
    /// twice.
    #[error("Slack did not confirm the message ({what}); it may have been posted")]
    Unconfirmed { what: String },
    /// Slack refused the bot token (revoked, mistyped, missing a scope): a person fixes
    /// the secret's `slack_bot_token` or the app's scopes. Never the token itself.
    #[error("Slack refused the bot token for {method} ({error}{}); check slack_bot_token in the secret and the app's scopes", needed.as_deref().map(|n| format!(", needs the scope {n}")).unwrap_or_default())]
    Token {
        method: &'static str,
        error: String,
        needed: Option<String>,
    },
    /// A Web API call answered `ok: false` with an error no retry fixes.
    #[error("Slack's {method} answered {error}{}", if hint.is_empty() { String::new() } else { format!(": {hint}") })]
    Api {
        method: &'static str,
        error: String,
        hint: &'static str,
    },
}

impl SlackError {
    /// Whether posting the same message later may work and cannot post it twice.
    /// Whether a later attempt may succeed. A webhook revoked, a channel archived or a
    /// workspace that refuses the app (403, 404 `no_service`, 410) is fixed by a person
    /// replacing the webhook in the secret, which the next attempt reads: retried, for
    /// the redrive's week, not given up at once. A refused payload (400) stays refused.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Unavailable { .. } | Self::Unreachable(_) | Self::Paced => true,
            Self::Rejected { status, .. } => matches!(status, 403 | 404 | 410),
            Self::Unconfirmed { .. } | Self::Token { .. } | Self::Api { .. } => false,
        }
    }

    /// Whether Slack may have posted the message despite the error.
    pub fn may_have_posted(&self) -> bool {
        matches!(self, Self::Unconfirmed { .. })
    }
}

#[derive(Debug, Clone)]
pub struct SlackConfig {
    /// Messages per second per webhook, and per channel with a bot token.
    pub per_second: f64,
    /// Where the Web API is (`https://slack.com/api`; the local receiver's in tests).
    pub api_base: String,
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for SlackConfig {
    fn default() -> Self {
        Self {
            per_second: 1.0,
            api_base: "https://slack.com/api".into(),
            request_timeout: Duration::from_secs(10),
            retry: RetryPolicy {
                max_attempts: 4,
                max_elapsed: Duration::from_secs(30),
                max_refusals: u32::MAX,
                base_delay: Duration::from_millis(500),
                max_delay: Duration::from_secs(15),
            },
        }
    }
}

/// The Slack client. Cheap to clone; clones share connections and limiters.
#[derive(Clone)]
pub struct SlackClient {
    pub(crate) http: reqwest::Client,
    pub(crate) config: SlackConfig,
    /// One limiter per webhook, keyed by a hash of its URL.
    limiters: Arc<Mutex<HashMap<String, Arc<Limiter>>>>,
    /// Where posted messages are kept, when asked (`crm serve`'s page).
    pub(crate) sent: Option<crate::SentLog>,
    /// Messages Slack took since [`take_posted`](Self::take_posted) last asked, shared
    /// by clones: for the metrics a function reports per run.
    posted: Arc<AtomicU64>,
}

impl std::fmt::Debug for SlackClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SlackClient {
    /// The longest one post can take: its retries' time budget, then one last request.
    pub fn worst_call(&self) -> std::time::Duration {
        self.config.retry.max_elapsed + self.config.request_timeout
    }
}

impl SlackClient {
    pub fn new(config: SlackConfig) -> Result<Self, reqwest::Error> {
        let http = crm_http::builder()
            .timeout(config.request_timeout)
            .build()?;
        Ok(Self {
            http,
            config,
            limiters: Arc::new(Mutex::new(HashMap::new())),
            sent: None,
            posted: Arc::default(),
        })
    }

    /// The messages Slack took since the last time this was asked.
    pub fn take_posted(&self) -> u64 {
        self.posted.swap(0, Ordering::Relaxed)
    }

    pub(crate) fn count_posted(&self) {
        self.posted.fetch_add(1, Ordering::Relaxed);
    }

    /// This client, keeping each message Slack took in `log` (for a local page; a
    /// function has no use for it).
    pub fn recording(self, log: crate::SentLog) -> Self {
        Self {
            sent: Some(log),
            ..self
        }
    }

    fn limiter(&self, webhook: &SecretString) -> Arc<Limiter> {
        self.limiter_for(webhook, "", self.config.per_second)
    }

    /// Until when posts to `webhook` wait out a pause Slack asked for (a 429's
    /// `Retry-After`), if one is on now.
    pub fn paused_until(&self, webhook: &SecretString) -> Option<tokio::time::Instant> {
        self.limiter(webhook).paused_until()
    }

    /// The limiter of one pace: a webhook, or a Web API method (and channel) for one
    /// token. Keyed by a hash, so that no secret is held as a key.
    pub(crate) fn limiter_for(
        &self,
        secret: &SecretString,
        pace: &str,
        per_second: f64,
    ) -> Arc<Limiter> {
        let mut hash = Sha256::new();
        hash.update(secret.expose_secret().as_bytes());
        hash.update([0]);
        hash.update(pace.as_bytes());
        let key = hex::encode(hash.finalize());
        let mut limiters = self.limiters.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(
            limiters
                .entry(key)
                .or_insert_with(|| Arc::new(Limiter::new(per_second, 1))),
        )
    }

    /// Posts `message` where `to` says: an incoming webhook, or a channel with the bot.
    /// With the bot, the id of the channel Slack posted in (a destination may name it).
    pub async fn send(
        &self,
        to: &Destination,
        message: &SlackMessage,
    ) -> Result<Option<String>, SlackError> {
        match to {
            Destination::Webhook(url) => self.post(url, message).await.map(|()| None),
            Destination::Channel { token, channel } => {
                self.post_message(token, channel, message).await.map(Some)
            }
        }
    }

    /// Posts `message` to the incoming webhook `webhook`.
    pub async fn post(
        &self,
        webhook: &SecretString,
        message: &SlackMessage,
    ) -> Result<(), SlackError> {
        let limiter = self.limiter(webhook);
        self.paced(&limiter, "webhook", || self.send_once(webhook, message))
            .await?;
        self.count_posted();
        if let Some(sent) = &self.sent {
            sent.push("incoming webhook".into(), message);
        }
        Ok(())
    }

    /// Sends with `send` at `limiter`'s pace, retrying what may be retried, for as long
    /// as the call's time budget lasts (the paced loop every client shares: see
    /// `crm_pacing::paced`). A 429 makes every call at this pace wait, and the pace slow.
    pub(crate) async fn paced<T, F, Fut>(
        &self,
        limiter: &Limiter,
        what: &'static str,
        mut send: F,
    ) -> Result<T, SlackError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, Attempt>>,
    {
        let policy = &self.config.retry;
        let deadline = Instant::now() + policy.max_elapsed;
        let call = Call {
            service: "Slack",
            call: what,
        };
        paced(
            limiter,
            policy,
            deadline,
            call,
            || SlackError::Paced,
            |retry| {
                let sent = send();
                async move {
                    match sent.await {
                        Ok(answer) => Ending::done(Ok(answer), Heard::Took),
                        Err(Attempt::Final(e)) => Ending::done(Err(e), Heard::Nothing),
                        Err(Attempt::RateLimited(retry_after)) => {
                            Ending::refused(SlackError::Unavailable { status: 429 }, retry_after)
                        }
                        Err(Attempt::Again(e)) => {
                            Ending::again(e, Heard::Nothing, policy.backoff(retry))
                        }
                    }
                }
            },
        )
        .await
    }

    async fn send_once(
        &self,
        webhook: &SecretString,
        message: &SlackMessage,
    ) -> Result<(), Attempt> {
        // Only a refused connection certainly sent nothing; any other transport failure
        // may have happened after Slack had the message.
        let unsent = |e: reqwest::Error| {
            if e.is_connect() {
                Attempt::Again(SlackError::Unreachable(e.without_url()))
            } else if e.is_timeout() {
                Attempt::Final(SlackError::Unconfirmed {
                    what: "no answer in time".into(),
                })
            } else {
                Attempt::Final(SlackError::Unconfirmed {
                    what: "the connection failed after sending".into(),
                })
            }
        };
        let response = self
            .http
            .post(webhook.expose_secret())
            .json(message)
            .send()
            .await
            .map_err(unsent)?;
        let status = response.status().as_u16();
        let retry_after = retry_after_of(&response);
        let body = response.text().await.unwrap_or_default();
        match status {
            200..=299 => Ok(()),
            // Slack refuses over-limit posts before posting them.
            429 => Err(Attempt::RateLimited(retry_after)),
            500..=599 => Err(Attempt::Final(SlackError::Unconfirmed {
                what: format!("HTTP {status}"),
            })),
            _ => Err(Attempt::Final(SlackError::Rejected {
                status,
                body: body.chars().take(200).collect(),
            })),
        }
    }
}

/// The `Retry-After` of an answer, if it has one that parses.
pub(crate) fn retry_after_of(response: &reqwest::Response) -> Option<Duration> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()))
}

/// Where a message goes. `Debug` never shows the URL or the token.
#[derive(Clone)]
pub enum Destination {
    /// An incoming webhook (its URL is the secret).
    Webhook(SecretString),
    /// A channel (id or `#name`) or a DM's id, posted to with the bot token.
    Channel {
        token: SecretString,
        channel: String,
    },
}

impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Webhook(_) => f.write_str("Webhook([redacted])"),
            Self::Channel { channel, .. } => f
                .debug_struct("Channel")
                .field("channel", channel)
                .finish_non_exhaustive(),
        }
    }
}

/// How one request ended, for [`SlackClient::paced`].
pub(crate) enum Attempt {
    /// No retry can change it, or one could post twice.
    Final(SlackError),
    /// Refused for the rate, before Slack acted.
    RateLimited(Option<Duration>),
    /// May work if sent again, and cannot post twice.
    Again(SlackError),
}
