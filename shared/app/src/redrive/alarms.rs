//! The stack's alarms, told to the `ops` destination: the alarms topic invokes the
//! redrive too, so whoever reads Slack hears what an email subscriber would
//! (docs/design.md, "Redrive").

use super::RedriveStore;
use crm_domain::ops::Alarm;
use crm_settings::SecretsSource;
use serde::Deserialize;
use serde_json::Value;

use super::Redrive;

/// What the redrive was invoked for, read once from the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// The schedule (its payload carries nothing the run needs).
    Scheduled,
    /// Alarms published to the alarms topic, one per SNS record.
    Alarms(Vec<Alarm>),
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
                .map(|r| {
                    serde_json::from_str(&r.sns.message).unwrap_or(Alarm {
                        name: "A message to the alarms topic".into(),
                        description: Some(r.sns.message),
                        state: "ALARM".into(),
                        reason: String::new(),
                    })
                })
                .collect(),
        )
    }
}

impl<S: RedriveStore, P: SecretsSource> Redrive<S, P> {
    /// Tells ops each alarm, one message each. An error leaves the invocation failed,
    /// so Lambda tries again; the topic's other subscribers have it either way.
    pub async fn tell_alarms(&self, alarms: &[Alarm]) -> Result<usize, String> {
        for alarm in alarms {
            tracing::warn!(alarm = %alarm.name, state = %alarm.state, "alarm");
            self.tell(&alarm.lines()).await?;
        }
        Ok(alarms.len())
    }
}
