//! Who is signed in, as both the server and the browser see it.

use serde::{Deserialize, Serialize};

/// What a person may do in Coffer. Groups from the identity provider map to
/// roles; a user may hold several.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Uploads versions, browses, downloads, shares.
    DataScientist,
    /// Reads everything and the audit dashboard; changes nothing.
    Compliance,
    /// Everything, plus revoking anyone's links and setting retention.
    Admin,
}

impl Role {
    /// The role's name in the API and in the group mapping.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::DataScientist => "data-scientist",
            Role::Compliance => "compliance",
            Role::Admin => "admin",
        }
    }

    /// Parses a role name as written in the API and the group mapping.
    pub fn parse(name: &str) -> Option<Role> {
        match name {
            "data-scientist" => Some(Role::DataScientist),
            "compliance" => Some(Role::Compliance),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// The signed-in user, as pages need it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    /// The name the identity provider gave (never used as a key).
    pub username: String,
    /// Roles granted by the user's groups; empty means no access.
    pub roles: Vec<Role>,
    /// Token a cookie-authenticated form or script must echo to change state.
    pub csrf_token: String,
    /// When the session ends if nothing else happens, in Unix seconds.
    pub session_expires_at: i64,
}

impl Viewer {
    /// Whether any of the user's roles is one of `allowed`.
    pub fn has_any(&self, allowed: &[Role]) -> bool {
        self.roles.iter().any(|role| allowed.contains(role))
    }

    /// Data scientists and admins create versions.
    pub fn may_upload(&self) -> bool {
        self.has_any(&[Role::DataScientist, Role::Admin])
    }

    /// Compliance staff and admins read the audit dashboard.
    pub fn may_audit(&self) -> bool {
        self.has_any(&[Role::Compliance, Role::Admin])
    }

    /// Any role lets a user browse models.
    pub fn may_browse(&self) -> bool {
        !self.roles.is_empty()
    }
}

/// What the page shell knows about the current request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageContext {
    /// The signed-in user, if any.
    pub viewer: Option<Viewer>,
    /// Whether the development identity provider is in use, so every page
    /// can say so.
    pub dev_idp: bool,
}
