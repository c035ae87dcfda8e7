//! The Deals data source's identity, in one place below the webhook and the worker:
//! which events are about Deals ([`classify`]), and the schema's ids the worker reads
//! deals by ([`DealSchema`], cached in the store). The webhook asks the first before it
//! keeps an event (with the database id the cache holds, once the worker has read it);
//! the worker asks both before it acts on one. And how each deal moved ([`history`]).

pub mod history;
mod parent;
mod schema;

pub use parent::{
    FIRST_DATA_SOURCE_VERSION, Mismatch, Relevance, classify, is_before_data_sources,
};
pub use schema::{DealSchema, SchemaError, known_deals_database, schema};
