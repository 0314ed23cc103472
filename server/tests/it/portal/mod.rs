//! Pages, health endpoints, headers and the role matrix.

mod access;
mod headers;
