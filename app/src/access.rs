//! Which pages need which rights. The server enforces this table before it
//! renders; the pages consult it only to choose what to show.

use crate::session::Viewer;

/// What a page requires of its visitor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not.
    Public,
    /// Any Coffer role.
    Browse,
    /// Data scientists and admins.
    Upload,
    /// Compliance staff and admins.
    Audit,
}

/// The access rule for a portal path.
pub fn access_for(path: &str) -> Access {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    match first {
        "upload" => Access::Upload,
        "shares" => Access::Upload,
        "audit" => Access::Audit,
        "models" => Access::Browse,
        _ => Access::Public,
    }
}

impl Access {
    /// Whether a visitor (`None` when signed out) may open the page.
    pub fn allows(self, viewer: Option<&Viewer>) -> bool {
        match (self, viewer) {
            (Access::Public, _) => true,
            (_, None) => false,
            (Access::Browse, Some(viewer)) => viewer.may_browse(),
            (Access::Upload, Some(viewer)) => viewer.may_upload(),
            (Access::Audit, Some(viewer)) => viewer.may_audit(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Role;

    fn viewer(roles: &[Role]) -> Viewer {
        Viewer {
            username: "someone".into(),
            roles: roles.to_vec(),
            csrf_token: String::new(),
            session_expires_at: 0,
        }
    }

    #[test]
    fn each_role_opens_exactly_its_pages() {
        let cases = [
            ("/upload", [false, true, false, true, false]),
            ("/audit", [false, false, true, true, false]),
            (
                "/models/resnet/versions/2",
                [false, true, true, true, false],
            ),
            ("/shares", [false, true, false, true, false]),
            ("/", [true, true, true, true, true]),
        ];
        let ds = viewer(&[Role::DataScientist]);
        let compliance = viewer(&[Role::Compliance]);
        let admin = viewer(&[Role::Admin]);
        let nobody = viewer(&[]);
        for (path, expected) in cases {
            let rule = access_for(path);
            let got = [
                rule.allows(None),
                rule.allows(Some(&ds)),
                rule.allows(Some(&compliance)),
                rule.allows(Some(&admin)),
                rule.allows(Some(&nobody)),
            ];
            assert_eq!(got, expected, "{path}");
        }
    }
}
