//! Where a configured Slack destination (a stage route's, the digest's, ops') goes.
//!
//! A destination names an incoming webhook (a key of the secret's `slack_webhooks`) or,
//! when the secret holds a `slack_bot_token`, a channel (`#sales`, `sales` or its id).
//! A webhook of that name wins, so a configuration that worked with webhooks keeps
//! working when a bot token is added.

use crm_settings::Secrets;
use crm_slack::Destination;

/// A destination that cannot be posted to with this secret: a person fixes the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no Slack webhook named {0:?} in slack_webhooks in the secret (or set slack_bot_token to post to a channel of that name)"
)]
pub struct Unroutable(pub String);

/// The destination `name` resolves to with `secrets`.
pub fn resolve(name: &str, secrets: &Secrets) -> Result<Destination, Unroutable> {
    if let Some(url) = secrets.slack_webhooks.get(name) {
        return Ok(Destination::Webhook(url.clone()));
    }
    match &secrets.slack_bot_token {
        Some(token) if !name.trim().trim_start_matches('#').is_empty() => {
            Ok(Destination::Channel {
                token: token.clone(),
                channel: channel(name),
            })
        }
        _ => Err(Unroutable(name.to_owned())),
    }
}

/// A channel id as it is; a name with its `#` (which `chat.postMessage` accepts).
fn channel(name: &str) -> String {
    let name = name.trim();
    let is_id = name.len() > 1
        && name.starts_with(['C', 'G', 'D'])
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if is_id || name.starts_with('#') {
        name.to_owned()
    } else {
        format!("#{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(bot: bool) -> Secrets {
        let mut json = serde_json::json!({"slack_webhooks": {"won": "https://hooks.example/won"}});
        if bot {
            json["slack_bot_token"] = "xoxb-1".into();
        }
        Secrets::from_json(&json.to_string()).unwrap()
    }

    #[test]
    fn a_webhook_wins_then_a_channel_with_a_bot_token() {
        assert!(matches!(
            resolve("won", &secrets(true)),
            Ok(Destination::Webhook(_))
        ));
        for (name, channel_) in [
            ("#sales", "#sales"),
            ("sales", "#sales"),
            ("C0123ABC", "C0123ABC"),
        ] {
            match resolve(name, &secrets(true)) {
                Ok(Destination::Channel { channel, .. }) => assert_eq!(channel, channel_),
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn without_a_bot_token_only_webhooks_and_the_error_says_what_to_add() {
        let err = resolve("#sales", &secrets(false)).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("slack_webhooks") && text.contains("slack_bot_token"));
    }
}
