//! The compliance dashboard: its wire types and the `/audit` page.

pub mod api;
pub mod page;
