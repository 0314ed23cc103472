//! Share links: the `/shares` page, a recipient's `/s/{token}` page, the
//! version page's share form and the types behind them.

pub mod api;
pub mod browser;
pub mod copy;
pub mod form;
pub mod links;
pub mod page;
pub mod recipient;
