//! The certificate authorities and files of the Karmada mode: Karmada's CA (the aggregated
//! API server's and the webhook's serving certificates), and the front proxy's CA and client
//! certificate for the API server's aggregation layer.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::pki::CertificateAuthority;

/// The certificate authorities and files of the Karmada mode.
pub(super) struct Pki {
    pub(super) karmada_ca: CertificateAuthority,
    pub(super) karmada_ca_file: PathBuf,
    pub(super) karmada_ca_key_file: PathBuf,
    pub(super) front_proxy_ca_file: PathBuf,
    pub(super) front_proxy_client: (PathBuf, PathBuf),
    pub(super) aggregated_apiserver: (PathBuf, PathBuf),
    /// karmada-webhook reads `tls.crt` and `tls.key` from this directory.
    pub(super) webhook_cert_dir: PathBuf,
}

impl Pki {
    pub(super) fn new(dir: &Path) -> Result<Self> {
        let pki = dir.join("pki");
        let karmada_ca = CertificateAuthority::new("karmada")?;
        let (karmada_ca_file, karmada_ca_key_file) = karmada_ca.write(&pki, "ca")?;
        let front_proxy_ca = CertificateAuthority::new("front-proxy-ca")?;
        let (front_proxy_ca_file, _) = front_proxy_ca.write(&pki, "front-proxy-ca")?;
        let front_proxy_client = front_proxy_ca
            .client("front-proxy-client", &[])?
            .write(&pki, "front-proxy-client")?;
        let aggregated_apiserver = karmada_ca
            .serving(
                "system:karmada:karmada-aggregated-apiserver",
                &[
                    "karmada-aggregated-apiserver.karmada-system.svc",
                    "karmada-aggregated-apiserver.karmada-system.svc.cluster.local",
                    "localhost",
                    "127.0.0.1",
                ],
            )?
            .write(&pki, "karmada-aggregated-apiserver")?;
        let webhook_cert_dir = pki.join("karmada-webhook");
        karmada_ca
            .serving(
                "system:karmada:karmada-webhook",
                &[
                    "karmada-webhook.karmada-system.svc",
                    "karmada-webhook.karmada-system.svc.cluster.local",
                    "localhost",
                    "127.0.0.1",
                ],
            )?
            .write(&webhook_cert_dir, "tls")?;
        Ok(Self {
            karmada_ca,
            karmada_ca_file,
            karmada_ca_key_file,
            front_proxy_ca_file,
            front_proxy_client,
            aggregated_apiserver,
            webhook_cert_dir,
        })
    }
}
