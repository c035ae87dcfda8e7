//! The Free workspace block limit, as a switch.
//!
//! Notion's "Workspace block limits" page (enforced by the API from 2026-09-08): "Free
//! workspaces with more than one member have a limit of 1,000 lifetime blocks … Deleting
//! blocks does not restore capacity." Every page is a block, so every contact, deal and
//! Activity counts. "The write that first reaches the limit succeeds and starts the
//! existing three-day grace period. Creation remains available during grace … After
//! grace expires, requests that create blocks fail. Reads, deletes, and edits that do
//! not create blocks remain available." It "does not apply to personal access tokens".
//!
//! What the refusal looks like is not settled: one copy of the docs gives 403
//! `restricted_resource` with `additional_data.block_limit`, others name no shape. So
//! the shape is a switch ([`BlockRefusal`]), and the product must recognise both.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;

/// A Free workspace's block limit.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct BlockLimit {
    /// Lifetime blocks (1,000 on Free).
    #[serde(default = "default_limit")]
    pub limit: u64,
    /// Members of the workspace, guests not counted: the limit holds only above one.
    #[serde(default = "default_members")]
    pub members: u32,
    /// Blocks the workspace had before the emulator counted any (page contents,
    /// other pages): added to the pages and databases it holds.
    #[serde(default)]
    pub used_before: u64,
    /// The grace after the write that reached the limit (three days in Notion).
    #[serde(default = "default_grace")]
    pub grace_seconds: f64,
    #[serde(default)]
    pub refusal: BlockRefusal,
}

fn default_limit() -> u64 {
    1_000
}
fn default_members() -> u32 {
    2
}
fn default_grace() -> f64 {
    3.0 * 86_400.0
}

impl BlockLimit {
    /// A Free workspace of two members limited to `limit` blocks, with no grace: once it
    /// holds `limit` blocks, the next create is refused.
    pub fn free(limit: u64, refusal: BlockRefusal) -> Self {
        Self {
            limit,
            members: 2,
            used_before: 0,
            grace_seconds: 0.0,
            refusal,
        }
    }

    pub fn grace(&self) -> Duration {
        Duration::from_secs_f64(self.grace_seconds.max(0.0))
    }

    /// Whether the limit holds at all: Free with more than one member.
    pub fn applies(&self) -> bool {
        self.members > 1
    }

    /// The refusal of a create, in the shape chosen.
    pub fn refusal(&self, used: u64) -> ApiError {
        match self.refusal {
            BlockRefusal::Documented => {
                let mut e = ApiError::new(
                    403,
                    "restricted_resource",
                    "This workspace has reached its block limit. Upgrade the workspace to keep adding content.",
                );
                e.additional_data =
                    Some(json!({"block_limit": {"limit": self.limit, "used": used}}));
                e
            }
            BlockRefusal::Bare => ApiError::for_status(403),
        }
    }
}

/// How a refused create looks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockRefusal {
    /// 403 `restricted_resource` with `additional_data.block_limit` (one copy of the
    /// docs).
    #[default]
    Documented,
    /// 403 `restricted_resource` and nothing to tell it from a missing capability.
    Bare,
}

/// What kind of connection a token is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// An internal connection (an integration's token): held to the block limit.
    #[default]
    Internal,
    /// A personal access token: the block limit does not apply.
    Personal,
}
