//! A provider reads its objects and writes its statuses with nothing but the prelude: no
//! k8s-openapi paths of its own (its k8s-openapi may even be another version).

#![forbid(unsafe_code)]

use mcp_interface::prelude::*;

fn mci() -> MultiClusterIngress {
    MultiClusterIngress {
        metadata: ObjectMeta {
            name: Some("shop".into()),
            namespace: Some("default".into()),
            ..ObjectMeta::default()
        },
        spec: Some(IngressSpec {
            tls: Some(vec![IngressTLS {
                hosts: Some(vec!["shop.example.com".into()]),
                secret_name: Some("shop-tls".into()),
            }]),
            default_backend: Some(IngressBackend {
                service: Some(IngressServiceBackend {
                    name: "fallback".into(),
                    port: Some(ServiceBackendPort {
                        name: Some("http".into()),
                        number: None,
                    }),
                }),
                resource: None,
            }),
            rules: Some(vec![IngressRule {
                host: Some("shop.example.com".into()),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some("/cart".into()),
                        path_type: "Prefix".into(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend {
                                name: "cart".into(),
                                port: Some(ServiceBackendPort {
                                    name: None,
                                    number: Some(8080),
                                }),
                            }),
                            resource: None,
                        },
                    }],
                }),
            }]),
            ingress_class_name: None,
        }),
        status: None,
    }
}

/// The backend services an ingress balances, the way a provider would collect them.
fn backend_services(mci: &MultiClusterIngress) -> Vec<String> {
    let spec = mci.spec.as_ref().expect("spec");
    let default = spec.default_backend.iter();
    let paths = spec
        .rules
        .iter()
        .flatten()
        .filter_map(|rule| rule.http.as_ref())
        .flat_map(|http| http.paths.iter().map(|path| &path.backend));
    default
        .chain(paths)
        .filter_map(|backend| backend.service.as_ref())
        .map(|service| service.name.clone())
        .collect()
}

#[test]
fn a_provider_reads_an_ingress_with_the_prelude_alone() {
    assert_eq!(backend_services(&mci()), ["fallback", "cart"]);
    let status = IngressLoadBalancerStatus {
        ingress: Some(vec![IngressLoadBalancerIngress {
            hostname: Some("shop.default.lb.example.com".into()),
            ip: None,
            ports: Some(vec![IngressPortStatus {
                port: 443,
                protocol: "TCP".into(),
                error: Some("Pending".into()),
            }]),
        }]),
    };
    let json = serde_json::to_value(&status).unwrap();
    assert_eq!(json["ingress"][0]["ports"][0]["error"], "Pending");
}

#[test]
fn a_provider_reads_a_service_with_the_prelude_alone() {
    let mcs = MultiClusterService {
        metadata: ObjectMeta {
            name: Some("api".into()),
            ..ObjectMeta::default()
        },
        spec: MultiClusterServiceSpec {
            types: vec![EXPOSURE_TYPE_LOAD_BALANCER.into()],
            ports: Some(vec![ExposurePort {
                name: Some("https".into()),
                port: 443,
            }]),
            provider_clusters: Some(vec![ClusterSelector {
                name: "member1".into(),
            }]),
            ..MultiClusterServiceSpec::default()
        },
        status: Some(ServiceStatus::default()),
    };
    assert!(mcs.spec.has_load_balancer());
    assert!(!mcs.spec.has_type(EXPOSURE_TYPE_CROSS_CLUSTER));
    let status = LoadBalancerStatus {
        ingress: Some(vec![LoadBalancerIngress {
            ip: Some("2001:db8::10".into()),
            ip_mode: Some("VIP".into()),
            ports: Some(vec![PortStatus {
                port: 443,
                protocol: "TCP".into(),
                error: Some("Ready".into()),
            }]),
            ..LoadBalancerIngress::default()
        }]),
    };
    assert_eq!(
        serde_json::to_value(&status).unwrap()["ingress"][0]["ip"],
        "2001:db8::10"
    );
}
