//! The backend view as the fake keeps it: the JSON of the [`Backends`] a call was given, with
//! each TLS private key replaced by `sha256:<hex of the key's PEM text>`. A key never reaches the
//! state (a file anyone with the state's path reads, printed by `mcp-fake-state`), yet a test sees
//! a key rotation as a changed digest.

use std::fmt::Write as _;

use mcp_interface::ProviderError;
use mcp_interface::backends::{Backends, PrivateKey};
use sha2::{Digest, Sha256};

/// What the state shows in place of a private key.
pub(crate) fn key_marker(key: &PrivateKey) -> String {
    let digest = Sha256::digest(key.pem().as_bytes());
    let mut marker = String::with_capacity("sha256:".len() + 2 * digest.len());
    marker.push_str("sha256:");
    for byte in digest {
        let _ = write!(marker, "{byte:02x}");
    }
    marker
}

/// `backends` as stored: JSON text without private keys.
pub(crate) fn stored(backends: &Backends) -> Result<String, ProviderError> {
    let mut view = serde_json::to_value(backends)
        .map_err(|e| ProviderError::permanent(format!("cannot encode a backend view: {e}")))?;
    // Replaced in the JSON, not on a copy of the typed view: the view is not cloned, and a key
    // in a field a newer interface adds would have to be added here either way.
    let entries = view
        .get_mut("tls")
        .and_then(serde_json::Value::as_array_mut);
    for (entry, tls) in entries.into_iter().flatten().zip(&backends.tls) {
        if let (Some(slot), Some(key)) = (entry.get_mut("privateKey"), &tls.private_key) {
            *slot = serde_json::Value::String(key_marker(key));
        }
    }
    Ok(view.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_interface::backends::TlsCertificate;

    fn with_key(key: &str) -> Backends {
        Backends {
            resolved: true,
            services: vec![],
            tls: vec![
                TlsCertificate {
                    hosts: vec!["demo.localdev.me".into()],
                    secret_name: "demo-tls".into(),
                    certificate: Some("-----BEGIN CERTIFICATE-----cert".into()),
                    private_key: Some(PrivateKey::new(key)),
                    problem: None,
                },
                TlsCertificate {
                    secret_name: "missing".into(),
                    problem: Some("Secret default/missing does not exist".into()),
                    ..TlsCertificate::default()
                },
            ],
        }
    }

    #[test]
    fn private_keys_are_stored_as_their_digest() {
        let key = "-----BEGIN PRIVATE KEY-----hunter2";
        let text = stored(&with_key(key)).unwrap();
        assert!(!text.contains("hunter2"), "{text}");
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        // sha256 of the key's text, as `printf %s "$key" | sha256sum` prints it.
        let marker = json["tls"][0]["privateKey"].as_str().unwrap();
        assert_eq!(
            marker,
            "sha256:59b0c3528e5d2333c1215ebf474e4cae313ac623aed967165022a147f1a54f16"
        );
        // Everything else is the view as given.
        assert_eq!(
            json["tls"][0]["certificate"],
            "-----BEGIN CERTIFICATE-----cert"
        );
        assert_eq!(
            json["tls"][1]["problem"],
            "Secret default/missing does not exist"
        );
        assert!(json["tls"][1].get("privateKey").is_none());
        assert_eq!(json["resolved"], true);
    }

    #[test]
    fn a_rotated_key_shows_as_another_digest() {
        let before = stored(&with_key("key one")).unwrap();
        let after = stored(&with_key("key two")).unwrap();
        assert_ne!(before, after);
        assert_eq!(stored(&with_key("key one")).unwrap(), before);
    }
}
