//! From identity-provider groups to Coffer roles.

use std::collections::BTreeMap;
use std::str::FromStr;

use coffer_app::session::Role;

/// Which group grants which role, e.g. `data-scientists=data-scientist`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupMap(BTreeMap<String, Role>);

impl GroupMap {
    /// The roles the given groups grant, sorted and without repeats.
    pub fn roles_for<'a>(&self, groups: impl IntoIterator<Item = &'a str>) -> Vec<Role> {
        let mut roles: Vec<Role> = groups
            .into_iter()
            .filter_map(|group| self.0.get(group).copied())
            .collect();
        roles.sort();
        roles.dedup();
        roles
    }
}

impl FromStr for GroupMap {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut map = BTreeMap::new();
        for pair in text
            .split(',')
            .map(str::trim)
            .filter(|pair| !pair.is_empty())
        {
            let (group, role) = pair
                .split_once('=')
                .ok_or_else(|| format!("{pair:?} is not of the form group=role"))?;
            let role = Role::parse(role.trim()).ok_or_else(|| {
                format!("unknown role {role:?}: use data-scientist, compliance or admin")
            })?;
            map.insert(group.trim().to_owned(), role);
        }
        if map.is_empty() {
            return Err("the group mapping names no group".to_owned());
        }
        Ok(GroupMap(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_map_to_sorted_unique_roles_and_unknown_groups_grant_nothing() {
        let map: GroupMap = "ds=data-scientist, ml=data-scientist,boss=admin"
            .parse()
            .expect("valid mapping");
        assert_eq!(
            map.roles_for(["boss", "ml", "ds", "visitors"]),
            vec![Role::DataScientist, Role::Admin]
        );
        assert!(map.roles_for(["visitors"]).is_empty());
    }

    #[test]
    fn a_mapping_with_an_unknown_role_is_refused() {
        let error = "ds=wizard".parse::<GroupMap>().expect_err("unknown role");
        assert!(error.contains("unknown role"), "{error}");
        assert!("no-equals-sign".parse::<GroupMap>().is_err());
        assert!("".parse::<GroupMap>().is_err());
    }
}
