//! What RBAC grants and what the audit log saw: the permissions of every rule of an RBAC
//! manifest, the requests the provider's user made, whether a grant allows a request, and
//! whether a grant is wider than the controller needs.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::common::{DEPLOY_RBAC, PROVIDER_USER};

/// One permission a rule grants: where (a Role's namespace, or everywhere for a ClusterRole),
/// what (apiGroup, resource[/subresource], verb) and on which objects (`resourceNames`, or any).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Grant {
    pub(super) namespace: Option<String>,
    pub(super) group: String,
    pub(super) resource: String,
    pub(super) verb: String,
    pub(super) names: Option<BTreeSet<String>>,
}

/// One request the audit log saw.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Request {
    pub(super) group: String,
    pub(super) resource: String,
    pub(super) verb: String,
    pub(super) namespace: Option<String>,
    pub(super) name: Option<String>,
    pub(super) code: u16,
}

impl Grant {
    /// Whether RBAC would allow `request` under this grant.
    pub(super) fn allows(&self, request: &Request) -> bool {
        (
            self.group.as_str(),
            self.resource.as_str(),
            self.verb.as_str(),
        ) == (
            request.group.as_str(),
            request.resource.as_str(),
            request.verb.as_str(),
        ) && self
            .namespace
            .as_ref()
            .is_none_or(|ns| request.namespace.as_ref() == Some(ns))
            && self
                .names
                .as_ref()
                .is_none_or(|names| request.name.as_ref().is_some_and(|n| names.contains(n)))
    }
}

/// Every permission of every rule in `rbac_yaml`'s ClusterRoles and Roles.
pub(super) fn granted(rbac_yaml: &str) -> BTreeSet<Grant> {
    let mut out = BTreeSet::new();
    for object in mcp_testenv::parse_manifests(rbac_yaml, "rbac").unwrap() {
        let kind = object.types.as_ref().unwrap().kind.clone();
        let namespace = match kind.as_str() {
            "ClusterRole" => None,
            "Role" => Some(object.metadata.namespace.clone().unwrap()),
            _ => continue,
        };
        for rule in object.data["rules"].as_array().unwrap() {
            let strings = |key: &str| -> Option<BTreeSet<String>> {
                rule.get(key)?
                    .as_array()
                    .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
            };
            let names = strings("resourceNames");
            for group in strings("apiGroups").unwrap() {
                for resource in strings("resources").unwrap() {
                    for verb in strings("verbs").unwrap() {
                        out.insert(Grant {
                            namespace: namespace.clone(),
                            group: group.clone(),
                            resource: resource.clone(),
                            verb,
                            names: names.clone(),
                        });
                    }
                }
            }
        }
    }
    out
}

/// Objects the controller touches by a fixed name in its own namespace (or cluster-wide): a
/// permission to read or change them must be limited to that name, and for the Lease to that
/// namespace (a Role): RBAC allows both, so anything wider is more than the controller needs.
const FIXED_NAMES: &[(&str, &str, &str)] = &[
    (
        "coordination.k8s.io",
        "leases",
        "multicluster-controller-manager",
    ),
    (
        "policy.karmada.io",
        "clusterpropagationpolicies",
        "serviceexportpropagation-policy",
    ),
];

/// Verbs RBAC can limit to `resourceNames`.
const NAMED_VERBS: &[&str] = &["get", "update", "patch", "delete"];

/// Why `grant` is wider than the controller needs, if it is.
pub(super) fn too_wide(grant: &Grant) -> Option<String> {
    let fixed = FIXED_NAMES
        .iter()
        .find(|(g, r, _)| (*g, *r) == (grant.group.as_str(), grant.resource.as_str()));
    if let Some((_, _, name)) = fixed
        && NAMED_VERBS.contains(&grant.verb.as_str())
        && grant.names.as_ref() != Some(&BTreeSet::from([(*name).to_owned()]))
    {
        return Some(format!("not limited to resourceNames [{name}]"));
    }
    if grant.resource == "leases" && grant.namespace.is_none() {
        return Some("a ClusterRole: leader election needs only its own namespace".into());
    }
    None
}

/// What the audit log saw the provider's user do, every resource request.
pub(super) fn audited(log: &Path) -> Vec<Request> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut out = Vec::new();
    for line in text.lines() {
        let event: Value = serde_json::from_str(line).unwrap();
        if event["user"]["username"] != PROVIDER_USER {
            continue;
        }
        let Some(object) = event.get("objectRef") else {
            continue; // non-resource URLs (/version)
        };
        let mut resource = object["resource"].as_str().unwrap_or_default().to_owned();
        if let Some(sub) = object["subresource"].as_str() {
            resource = format!("{resource}/{sub}");
        }
        let text = |key: &str| object[key].as_str().map(str::to_owned);
        out.push(Request {
            group: text("apiGroup").unwrap_or_default(),
            resource,
            verb: event["verb"].as_str().unwrap_or_default().to_owned(),
            namespace: text("namespace"),
            name: text("name"),
            code: event["responseStatus"]["code"].as_u64().unwrap_or(0) as u16,
        });
    }
    out
}

#[test]
fn grants_are_judged_by_scope_and_resource_names() {
    let grants = granted(DEPLOY_RBAC);
    let lease = |verb: &str, name: Option<&str>, namespace: Option<&str>| Request {
        group: "coordination.k8s.io".into(),
        resource: "leases".into(),
        verb: verb.into(),
        namespace: namespace.map(str::to_owned),
        name: name.map(str::to_owned),
        code: 200,
    };
    let allowed = |r: &Request| grants.iter().any(|g| g.allows(r));
    let ours = "multicluster-controller-manager";
    assert!(allowed(&lease("get", Some(ours), Some("karmada-system"))));
    assert!(!allowed(&lease(
        "get",
        Some("another"),
        Some("karmada-system")
    )));
    assert!(!allowed(&lease("get", Some(ours), Some("default"))));
    assert!(allowed(&lease("create", None, Some("karmada-system"))));
    for grant in &grants {
        assert_eq!(too_wide(grant), None, "{grant:?}");
    }
    // Broadened: the lease's rule without resourceNames, or in a ClusterRole.
    let renew = grants
        .iter()
        .find(|g| g.resource == "leases" && g.verb == "update")
        .unwrap();
    let any_name = Grant {
        names: None,
        ..renew.clone()
    };
    assert!(too_wide(&any_name).is_some());
    let everywhere = Grant {
        namespace: None,
        ..renew.clone()
    };
    assert!(too_wide(&everywhere).is_some());
}
