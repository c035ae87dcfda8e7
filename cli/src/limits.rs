//! What `crm setup --check` can tell of Notion's limits for a workspace: the request
//! budget is not published through the API (the functions find it), but the plan is,
//! by its upload limit, and on Free the pages the CRM holds count against the block
//! limit (README, "Set up Notion").

use crm_notion::{NotionClient, NotionError, QueryRequest};

use crate::workspace::Created;

/// The block limit of a Free workspace with more than one member.
pub const FREE_BLOCKS: usize = 1_000;

/// What the check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// On Notion's Free plan, as its upload limit says; `None` when Notion did not say.
    pub free: Option<bool>,
    /// Pages in the three data sources, counted up to [`FREE_BLOCKS`].
    pub pages: usize,
}

impl Limits {
    /// What to tell a person, in lines.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![
            "Requests: Notion meters each connection per 60-second window (the plan sets the budget) and the whole workspace over all connections; it does not say how much through the API, so the functions find it by themselves (NotionRatePerSecond = auto).".to_owned(),
        ];
        let counted = if self.pages >= FREE_BLOCKS {
            format!("at least {FREE_BLOCKS}")
        } else {
            self.pages.to_string()
        };
        match self.free {
            Some(true) => lines.extend([
                format!(
                    "Plan: Free (its 5 MiB upload limit says so). WARNING: with more than one member, a Free workspace has {FREE_BLOCKS} blocks for its whole life, and every contact, deal and Activity is one; the three data sources hold {counted} pages now, and other pages count too. Past the limit (after a three-day grace) Notion refuses new pages: leads wait in the inbox and ops is told once."
                ),
                "To stay clear of it: upgrade the workspace, or connect with a personal access token (the limit does not apply to it), or set ActivityLog = notes (activity_log = \"notes\"): a new lead then costs one block instead of two.".to_owned(),
            ]),
            Some(false) => lines.push(format!(
                "Plan: paid (uploads up to 5 GiB): no block limit; the three data sources hold {counted} pages."
            )),
            None => lines.push(
                "Plan: Notion did not say (no workspace limits on the bot user); on Free with more than one member, mind its 1,000-block limit.".to_owned(),
            ),
        }
        lines
    }
}

/// Reads the plan from the integration's bot user and counts the CRM's pages.
pub async fn limits(notion: &NotionClient, ids: &Created) -> Result<Limits, NotionError> {
    let free = notion.retrieve_bot_user().await?.on_free_plan();
    let mut pages = 0;
    for id in [&ids.contacts, &ids.deals, &ids.activities] {
        let mut request = QueryRequest {
            page_size: Some(100),
            ..QueryRequest::default()
        };
        while pages < FREE_BLOCKS {
            let response = notion.query_data_source(id, &request).await?;
            pages += response.results.len();
            match (response.has_more, response.next_cursor) {
                (true, Some(cursor)) => request.start_cursor = Some(cursor),
                _ => break,
            }
        }
    }
    Ok(Limits { free, pages })
}
