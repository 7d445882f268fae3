//! An MCI's TLS certificates: each `spec.tls` entry with its Secret's `tls.crt` and `tls.key`,
//! read with a GET when the view is built. The Secret cache holds metadata only (it is a
//! trigger), so the material is never cached; it is never logged and never put in an Event or
//! a problem message, which name the Secret and the key only.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::Api;
use mcp_interface::api::networking::MultiClusterIngress;
use mcp_interface::backends::{PrivateKey, TlsCertificate};

use super::{INVALID_TLS_SECRET, Problem};
use crate::error::Result;

/// The Secret key of the certificate chain, PEM.
pub const TLS_CERT_KEY: &str = "tls.crt";
/// The Secret key of the private key, PEM.
pub const TLS_PRIVATE_KEY_KEY: &str = "tls.key";

/// Secrets `names` of `namespace`, read now (`None`: not found). Any other failure fails the
/// view, so the reconcile is retried.
pub async fn read_secrets(
    client: &Client,
    namespace: &str,
    names: &BTreeSet<String>,
) -> Result<BTreeMap<String, Option<Secret>>> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let mut secrets = BTreeMap::new();
    for name in names {
        secrets.insert(name.clone(), api.get_opt(name).await?);
    }
    Ok(secrets)
}

/// The MCI's `spec.tls` entries, in their order, with the material of `secrets`; what is wrong
/// goes to `problems` as well as into the entry. An entry naming no Secret (the Ingress way to
/// ask for the balancer's default certificate) has neither material nor problem.
pub fn tls_view(
    namespace: &str,
    mci: &MultiClusterIngress,
    secrets: &BTreeMap<String, Option<Secret>>,
    problems: &mut Vec<Problem>,
) -> Vec<TlsCertificate> {
    let entries = mci.spec.iter().flat_map(|s| s.tls.iter().flatten());
    entries
        .map(|entry| {
            let mut certificate = TlsCertificate {
                hosts: entry.hosts.clone().unwrap_or_default(),
                secret_name: entry.secret_name.clone().unwrap_or_default(),
                ..TlsCertificate::default()
            };
            let Some(name) = entry.secret_name.as_deref().filter(|n| !n.is_empty()) else {
                return certificate;
            };
            let secret = secrets.get(name).and_then(Option::as_ref);
            match material(namespace, name, secret) {
                Ok((cert, key)) => {
                    certificate.certificate = Some(cert);
                    certificate.private_key = Some(PrivateKey::new(key));
                }
                Err(problem) => {
                    problems.push(Problem {
                        reason: INVALID_TLS_SECRET,
                        message: problem.clone(),
                    });
                    certificate.problem = Some(problem);
                }
            }
            certificate
        })
        .collect()
}

/// The certificate and key of Secret `namespace/name`, or why they cannot be used.
fn material(
    namespace: &str,
    name: &str,
    secret: Option<&Secret>,
) -> std::result::Result<(String, String), String> {
    let Some(secret) = secret else {
        return Err(format!("TLS Secret {namespace}/{name} not found"));
    };
    let pem = |key: &str, wanted: fn(&str) -> bool, what: &str| {
        let data = secret.data.as_ref().and_then(|d| d.get(key));
        let Some(data) = data.filter(|d| !d.0.is_empty()) else {
            return Err(format!("TLS Secret {namespace}/{name} has no {key}"));
        };
        let Ok(text) = std::str::from_utf8(&data.0) else {
            return Err(format!(
                "{key} of TLS Secret {namespace}/{name} is not UTF-8 text"
            ));
        };
        // Parsed only to be checked; the decoded blocks are dropped at once.
        let is_pem =
            pem::parse_many(text).is_ok_and(|blocks| blocks.iter().any(|b| wanted(b.tag())));
        if !is_pem {
            return Err(format!(
                "{key} of TLS Secret {namespace}/{name} holds no PEM {what}"
            ));
        }
        Ok(text.to_owned())
    };
    let certificate = pem(TLS_CERT_KEY, |tag| tag == "CERTIFICATE", "certificate")?;
    let key = pem(
        TLS_PRIVATE_KEY_KEY,
        |tag| tag.ends_with("PRIVATE KEY"),
        "private key",
    )?;
    Ok((certificate, key))
}
