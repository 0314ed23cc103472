//! Sign-in through the development provider, sessions and sign-out.

mod sessions;
mod sign_in;
