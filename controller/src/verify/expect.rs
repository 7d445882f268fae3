//! `verify --expect`: the capabilities a provider must offer. A provider that forgot one (its
//! `multicluster_service()` left at the default `None`) would otherwise pass: the suite only
//! checks what the provider offers. An expected capability becomes a check of the run, failing
//! with a sentence when the provider does not report it; a capability neither offered nor
//! expected is a warning line, and so is a provider that offers none.

use std::collections::BTreeMap;

use crate::cli::CapabilityName;

use super::report::{Outcome, Row};

/// The check's name in the report.
pub(crate) const CHECK: &str = "the provider offers it (--expect)";

/// What a capability is, and the SDK method that offers it.
fn describe(capability: CapabilityName) -> (&'static str, &'static str) {
    match capability {
        CapabilityName::MultiClusterIngress => {
            ("MultiClusterIngress load balancers", "multicluster_ingress")
        }
        CapabilityName::MultiClusterService => {
            ("MultiClusterService load balancers", "multicluster_service")
        }
    }
}

fn offered(capabilities: &BTreeMap<&'static str, bool>, capability: CapabilityName) -> bool {
    capabilities
        .get(capability.as_str())
        .copied()
        .unwrap_or(false)
}

/// The sentence for an expected capability the provider does not offer.
pub(crate) fn missing_sentence(provider: &str, capability: CapabilityName) -> String {
    let (what, method) = describe(capability);
    format!(
        "provider {provider:?} does not offer {name} ({what}), which --expect {name} requires: its `{method}()` returns None, so the controller would not hand it any",
        name = capability.as_str(),
    )
}

/// One row per expected capability (each once, in a fixed order): pass when the provider
/// offers it, fail with [`missing_sentence`] when not.
pub(crate) fn rows(
    expected: &[CapabilityName],
    capabilities: &BTreeMap<&'static str, bool>,
    provider: &str,
) -> Vec<Row> {
    CapabilityName::ALL
        .into_iter()
        .filter(|c| expected.contains(c))
        .map(|capability| {
            let (outcome, detail) = if offered(capabilities, capability) {
                (Outcome::Pass, "offered".to_owned())
            } else {
                (Outcome::Fail, missing_sentence(provider, capability))
            };
            Row {
                capability: capability.as_str(),
                object: "provider".to_owned(),
                check: CHECK,
                outcome,
                detail,
            }
        })
        .collect()
}

/// The expected capabilities the provider does not offer.
pub(crate) fn missing(
    expected: &[CapabilityName],
    capabilities: &BTreeMap<&'static str, bool>,
) -> Vec<CapabilityName> {
    CapabilityName::ALL
        .into_iter()
        .filter(|c| expected.contains(c) && !offered(capabilities, *c))
        .collect()
}

/// Warning lines: a provider that offers no capability at all, or each capability that is
/// neither offered nor expected (it is not checked, and nothing says it should be there).
pub(crate) fn warnings(
    expected: &[CapabilityName],
    capabilities: &BTreeMap<&'static str, bool>,
    provider: &str,
) -> Vec<String> {
    if !CapabilityName::ALL
        .into_iter()
        .any(|c| offered(capabilities, c))
    {
        return vec![format!(
            "provider {provider:?} offers neither multiclusteringress nor multiclusterservice: the controller would hand it no object"
        )];
    }
    CapabilityName::ALL
        .into_iter()
        .filter(|c| !expected.contains(c) && !offered(capabilities, *c))
        .map(|capability| {
            let (what, method) = describe(capability);
            format!(
                "provider {provider:?} does not offer {name} ({what}: its `{method}()` returns None), so it is not checked; if it should, add --expect {name}",
                name = capability.as_str()
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capabilities(ingress: bool, service: bool) -> BTreeMap<&'static str, bool> {
        BTreeMap::from([
            ("multiclusteringress", ingress),
            ("multiclusterservice", service),
        ])
    }

    #[test]
    fn an_expected_capability_the_provider_lacks_is_a_failed_row_with_a_sentence() {
        let expected = [
            CapabilityName::MultiClusterService,
            CapabilityName::MultiClusterIngress,
            CapabilityName::MultiClusterService,
        ];
        let rows = rows(&expected, &capabilities(true, false), "mycloud");
        let summary: Vec<_> = rows.iter().map(|r| (r.capability, r.outcome)).collect();
        assert_eq!(
            summary,
            [
                ("multiclusteringress", Outcome::Pass),
                ("multiclusterservice", Outcome::Fail)
            ]
        );
        assert_eq!(
            rows[1].detail,
            "provider \"mycloud\" does not offer multiclusterservice (MultiClusterService load balancers), which --expect multiclusterservice requires: its `multicluster_service()` returns None, so the controller would not hand it any"
        );
        assert_eq!(
            missing(&expected, &capabilities(true, false)),
            [CapabilityName::MultiClusterService]
        );
        assert!(missing(&expected, &capabilities(true, true)).is_empty());
    }

    #[test]
    fn warnings_name_what_is_neither_offered_nor_expected() {
        let ingress_only = capabilities(true, false);
        let warned = warnings(&[], &ingress_only, "mycloud");
        assert_eq!(warned.len(), 1, "{warned:?}");
        assert!(
            warned[0].contains("does not offer multiclusterservice")
                && warned[0].contains("add --expect multiclusterservice"),
            "{warned:?}"
        );
        // Expected: a failed row instead of a warning.
        assert!(warnings(&[CapabilityName::MultiClusterService], &ingress_only, "m").is_empty());
        assert!(warnings(&[], &capabilities(true, true), "m").is_empty());
        // Neither: one line saying so, whatever is expected.
        for expected in [&[][..], &[CapabilityName::MultiClusterIngress]] {
            let warned = warnings(expected, &capabilities(false, false), "mycloud");
            assert_eq!(
                warned,
                [
                    "provider \"mycloud\" offers neither multiclusteringress nor multiclusterservice: the controller would hand it no object"
                ]
            );
        }
    }
}
