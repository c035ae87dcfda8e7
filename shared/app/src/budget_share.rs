//! Notion's budget, shared knowingly between processes.
//!
//! Notion's budget is per integration, whoever sends the requests: two workers (two
//! stream shards, a replay beside the stream), the digest and an import spend one
//! budget. Each process's limiter would find its part through 429s, and one left alone
//! would take the whole budget back only by asking for more, a refusal each time. So
//! a process that works through Notion says so in the store about every second
//! ([`Presence`]), with what its limiter found of the budget (its note: see
//! `crm_pacing::Estimate`), adopts what the others found, and paces at its part of the
//! budget among those present (split in whole requests per second: see
//! `crm_pacing::share_of`); when it is done it leaves, and the others take its part back
//! at their next beat. A process that stops without leaving (a Lambda environment
//! frozen or killed) drops out when its presence expires.
//!
//! It is pacing, not safety: when the store cannot be reached the process goes on at
//! the share it had, and the limiter's own backing off on 429s still holds.

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crm_notion::NotionClient;
use crm_store::Presence;

/// Who shares the budget: every process calling Notion with this deployment's token.
const GROUP: &str = crate::inbox::keys::NOTION_BUDGET;
/// How often a working process says it is here (and learns who else is).
const BEAT: Duration = Duration::from_secs(1);
/// How long one beat counts: a few beats, so that one slow store call does not make the
/// others think this process has gone.
const PRESENT_FOR: Duration = Duration::from_secs(5);
/// The most a beat may wait for the store: the first one holds the work back.
const BEAT_TIMEOUT: Duration = Duration::from_secs(1);

/// This process's place among those spending Notion's budget. One per process (the
/// Notion client's limiter is one per process), shared by every handler in it.
#[derive(Debug)]
pub struct BudgetShare {
    member: String,
    /// Pieces of work of this process under way: it leaves when the last one ends.
    working: AtomicUsize,
}

impl Default for BudgetShare {
    fn default() -> Self {
        Self {
            member: uuid::Uuid::new_v4().simple().to_string(),
            working: AtomicUsize::new(0),
        }
    }
}

impl BudgetShare {
    /// Runs `work` while saying, every second, that this process spends the budget, and
    /// pacing `notion` at its share; leaves when the last of this process's work ends.
    pub async fn spending<S, F>(&self, store: &S, notion: &NotionClient, work: F) -> F::Output
    where
        S: Presence,
        F: Future,
    {
        self.working.fetch_add(1, Ordering::SeqCst);
        // First, so that the work starts at its share rather than at the whole rate.
        self.beat(store, notion).await;
        let out = tokio::select! {
            out = work => out,
            never = self.beating(store, notion) => match never {},
        };
        if self.working.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.leave(store, notion).await;
        }
        out
    }

    async fn beating<S: Presence>(&self, store: &S, notion: &NotionClient) -> Infallible {
        loop {
            tokio::time::sleep(BEAT).await;
            self.beat(store, notion).await;
        }
    }

    async fn beat<S: Presence>(&self, store: &S, notion: &NotionClient) {
        let note = notion.budget_note();
        let attended = tokio::time::timeout(
            BEAT_TIMEOUT,
            store.attend_saying(GROUP, &self.member, PRESENT_FOR, &note),
        )
        .await;
        match attended {
            Ok(Ok(present)) => {
                // What the others found of the budget first, then this one's part of it.
                let others = present.iter().filter(|p| p.member != self.member);
                notion.adopt_budget_notes(others.map(|p| p.note.as_str()));
                let members: Vec<String> = present.into_iter().map(|p| p.member).collect();
                notion.share_budget(&members, &self.member);
            }
            Ok(Err(err)) => {
                tracing::debug!(error = %err, "could not say this process spends Notion's budget; pacing on at its share");
            }
            Err(_) => tracing::debug!("the store did not answer a presence beat in time"),
        }
    }

    async fn leave<S: Presence>(&self, store: &S, notion: &NotionClient) {
        // Alone again as far as this process knows: the next work beats first anyway.
        notion.share_budget(&[], &self.member);
        match tokio::time::timeout(BEAT_TIMEOUT, store.leave(GROUP, &self.member)).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                tracing::debug!(error = %err, "could not leave Notion's budget; the presence expires by itself");
            }
            Err(_) => tracing::debug!(
                "the store did not answer in time when leaving; the presence expires by itself"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use crm_domain::SystemClock;
    use crm_notion::NotionConfig;
    use crm_store::SqliteStore;
    use secrecy::SecretString;

    fn notion() -> NotionClient {
        NotionClient::new(NotionConfig::new(
            "http://127.0.0.1:9",
            SecretString::from(""),
        ))
        .unwrap()
    }

    #[tokio::test]
    async fn a_process_is_present_while_any_of_its_work_runs_and_leaves_after_the_last() {
        let store = SqliteStore::in_memory(Arc::new(SystemClock)).unwrap();
        let (share, notion) = (BudgetShare::default(), notion());
        let present = || async { store.attend(GROUP, "probe", PRESENT_FOR).await.unwrap() };
        let (long_done, long) = tokio::sync::oneshot::channel::<()>();
        let (short_done, short) = tokio::sync::oneshot::channel::<()>();
        let both = async {
            tokio::join!(
                share.spending(&store, &notion, async { long.await.ok() }),
                share.spending(&store, &notion, async { short.await.ok() }),
            )
        };
        let check = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert!(present().await.contains(&share.member));
            short_done.send(()).unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert!(
                present().await.contains(&share.member),
                "one piece of work still runs"
            );
            long_done.send(()).unwrap();
        };
        tokio::join!(both, check);
        assert_eq!(present().await, ["probe"], "left after the last piece");
    }
}
