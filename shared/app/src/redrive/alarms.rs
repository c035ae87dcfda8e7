//! The stack's alarms, told to the `ops` destination: the alarms topic invokes the
//! redrive too, so whoever reads Slack hears what an email subscriber would
//! (docs/design.md, "Redrive").
//!
//! Each SNS message is told once: SNS delivers at least once, and Lambda retries a
//! failed invocation with all its records, so each message is posted under a claim on
//! its `MessageId` (the post-once protocol).

use std::time::Duration;

use super::RedriveStore;
use crm_domain::ops::Alarm;
use crm_settings::SecretsSource;
use crm_slack::SlackMessage;
use crm_store::{Claimed, Claims};
use serde::Deserialize;
use serde_json::Value;

use super::Redrive;
use crate::inbox::keys;
use crate::post_once::{self, Posted};

/// How long a told alarm is remembered: longer than SNS and Lambda retry.
const TOLD_MEMORY: Duration = Duration::from_secs(3 * 86_400);
/// How long one attempt holds an alarm's claim.
const TELLING_LEASE: Duration = Duration::from_secs(120);

/// What the redrive was invoked for, read once from the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// The schedule (its payload carries nothing the run needs).
    Scheduled,
    /// Alarms published to the alarms topic, one per SNS record.
    Alarms(Vec<Published>),
}

/// One alarm as SNS delivered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// SNS's id of the message: the same for every delivery of it.
    pub message_id: String,
    pub alarm: Alarm,
}

#[derive(Deserialize)]
struct SnsEvent {
    #[serde(rename = "Records")]
    records: Vec<SnsRecord>,
}

#[derive(Deserialize)]
struct SnsRecord {
    #[serde(rename = "Sns")]
    sns: SnsMessage,
}

#[derive(Deserialize)]
struct SnsMessage {
    #[serde(rename = "MessageId")]
    message_id: String,
    #[serde(rename = "Message")]
    message: String,
}

impl Invocation {
    /// An SNS event is alarms; anything else is the schedule. A record whose message
    /// is not a CloudWatch alarm (someone published to the topic by hand) is told as
    /// it came, so nothing sent to the topic goes unheard.
    pub fn parse(event: &Value) -> Self {
        let Ok(sns) = SnsEvent::deserialize(event) else {
            return Self::Scheduled;
        };
        Self::Alarms(
            sns.records
                .into_iter()
                .map(|r| Published {
                    alarm: serde_json::from_str(&r.sns.message).unwrap_or(Alarm {
                        name: "A message to the alarms topic".into(),
                        description: Some(r.sns.message),
                        state: "ALARM".into(),
                        reason: String::new(),
                    }),
                    message_id: r.sns.message_id,
                })
                .collect(),
        )
    }
}

impl<S: RedriveStore, P: SecretsSource> Redrive<S, P> {
    /// Tells ops each alarm, one message each, once per SNS message; returns how many
    /// were told now (in Slack, or in the log without an ops destination). An error leaves the invocation failed, so Lambda tries again (what
    /// was told is not told again); the topic's other subscribers have it either way.
    pub async fn tell_alarms(&self, alarms: &[Published]) -> Result<usize, String> {
        let mut told = 0;
        for Published { message_id, alarm } in alarms {
            tracing::warn!(alarm = %alarm.name, state = %alarm.state, "alarm");
            let store = &self.worker.store;
            let key = keys::ops_alarm(message_id);
            let claim = match store.claim(&key, TELLING_LEASE, TOLD_MEMORY).await {
                Ok(Claimed::Owned(claim)) => claim,
                Ok(Claimed::Done { .. }) => continue,
                Ok(Claimed::Busy) => return Err("another run is telling this alarm".into()),
                Err(e) => return Err(e.to_string()),
            };
            let lines = alarm.lines();
            let Some(to) = self.ops_destination(&lines).await? else {
                // The log has told it.
                claim.complete(None).await;
                told += 1;
                continue;
            };
            let message = SlackMessage {
                text: lines.join("\n"),
                blocks: crm_domain::slack::sections(&lines),
            };
            let now = self.worker.clock.now().as_millis();
            match post_once::post(claim, &self.worker.slack, &to, &message, now).await {
                Ok(Posted::Now) => told += 1,
                Ok(Posted::Unconfirmed(_)) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(told)
    }
}
