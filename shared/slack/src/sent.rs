//! What this process posted, kept in memory for a local page to show when Slack itself
//! is the real one (the page cannot read a real workspace). Off unless a client is made
//! [`recording`](crate::SlackClient::recording).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::SlackMessage;

/// A message Slack took from this process.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    /// Where: `incoming webhook`, or the channel as the route named it (`#sales`, an id).
    pub to: String,
    pub message: SlackMessage,
}

/// The last messages posted, newest last; shared by the clones of a client.
#[derive(Debug, Clone, Default)]
pub struct SentLog(Arc<Mutex<VecDeque<Sent>>>);

/// Enough for a page; older ones are let go.
const KEPT: usize = 200;

impl SentLog {
    pub(crate) fn push(&self, to: String, message: &SlackMessage) {
        let mut sent = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if sent.len() == KEPT {
            sent.pop_front();
        }
        sent.push_back(Sent {
            to,
            message: message.clone(),
        });
    }

    /// Every message kept, oldest first.
    pub fn all(&self) -> Vec<Sent> {
        let sent = self.0.lock().unwrap_or_else(|p| p.into_inner());
        sent.iter().cloned().collect()
    }
}
