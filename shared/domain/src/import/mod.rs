//! Importing contacts from another CRM's or a spreadsheet's export (`crm import`): the
//! pure part — which column is which field, and the rows as the contacts to write
//! (checked, one per person). Reading the file and writing to Notion are `crm`'s.

pub mod columns;
pub mod dates;
pub mod deals;
pub mod formula;
pub mod plan;
pub mod shape;

pub use columns::{Field, Mapping, MappingError, detect, parse_overrides};
pub use dates::{DateColumnError, DateOrder};
pub use plan::{Contact, ContactFields, Plan, Reject, Row, fit_statuses, plan};
pub use shape::{Shaped, by_shape};
