//! Wire types for the endpoints we use, shaped after Notion's API reference (the
//! `2026-03-11` version). Unknown fields are ignored and unknown property types read
//! as [`PropertyValue::Unsupported`], so a column a user adds never breaks a call.

mod page;
mod property;
mod query;
mod rich_text;
mod schema;
mod webhook;

pub use page::{CreatePage, Page, PageProperty, Parent, UpdatePage};
pub use property::{DateValue, PageRef, PropertyValue, SelectValue, UserRef};
pub use query::{QueryRequest, QueryResponse, RequestStatus};
pub use rich_text::{
    Link, MAX_PAGE_REFERENCES, MAX_RICH_TEXT_LEN, MAX_RICH_TEXT_OBJECTS, RichText, TextContent,
    plain_text, rich_text,
};
pub use schema::{
    CreateDatabase, DataSource, DataSourceRef, Database, PropertySchema, SelectOption,
};
pub use webhook::{EventAuthor, EventData, EventEntity, EventParent, WebhookEvent};
