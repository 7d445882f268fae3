//! The token-authenticated users of a control plane ([`ADMIN_USER`], [`RESTRICTED_USER`] and
//! the extra ones), and what they connect with: kubeconfigs and clients.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use super::{ADMIN_USER, ControlPlane, RESTRICTED_USER};
use crate::error::{Error, Result};
use crate::keys;

/// A token-authenticated identity of the control plane.
#[derive(Clone)]
pub struct User {
    /// User name as RBAC sees it.
    pub name: String,
    /// Groups besides `system:authenticated`.
    pub groups: Vec<String>,
    token: String,
}

impl User {
    /// The bearer token of this user.
    pub fn token(&self) -> &str {
        &self.token
    }
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

/// The admin and restricted users and the `extra` ones, each with a fresh token.
pub(super) fn with_tokens(extra: &[(String, Vec<String>)]) -> Vec<User> {
    let mut users = vec![
        User {
            name: ADMIN_USER.into(),
            groups: vec!["system:masters".into()],
            token: keys::random_token(),
        },
        User {
            name: RESTRICTED_USER.into(),
            groups: Vec::new(),
            token: keys::random_token(),
        },
    ];
    for (name, groups) in extra {
        users.push(User {
            name: name.clone(),
            groups: groups.clone(),
            token: keys::random_token(),
        });
    }
    users
}

/// kube-apiserver's `--token-auth-file`: `token,user,uid,"group1,group2"` per user.
pub(super) fn token_file(users: &[User]) -> String {
    users
        .iter()
        .map(|u| {
            format!(
                "{},{},{},\"{}\"\n",
                u.token,
                u.name,
                u.name,
                u.groups.join(",")
            )
        })
        .collect()
}

impl ControlPlane {
    /// All token users ([`ADMIN_USER`], [`RESTRICTED_USER`] and the extra ones).
    pub fn users(&self) -> &[User] {
        &self.users
    }

    /// A user by name.
    pub fn user(&self, name: &str) -> Result<&User> {
        self.users
            .iter()
            .find(|u| u.name == name)
            .ok_or_else(|| Error::UnknownUser(name.into()))
    }

    /// Path of the admin kubeconfig.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// The kubeconfig of `user` as YAML.
    pub fn kubeconfig_yaml(&self, user: &str) -> Result<String> {
        let user = self.user(user)?;
        let cluster = self.name.as_str();
        // An administrator's context is named after the cluster (as `karmada-apiserver` in
        // Karmada's kubeconfig); other users' contexts carry the user name.
        let context =
            if user.name == ADMIN_USER || user.groups.iter().any(|g| g == "system:masters") {
                cluster.to_string()
            } else {
                format!("{cluster}-{}", user.name)
            };
        let ca = base64::engine::general_purpose::STANDARD.encode(&self.ca_pem);
        let config = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": cluster, "cluster": {
                "server": self.server_url,
                "certificate-authority-data": ca,
            }}],
            "users": [{"name": user.name, "user": {"token": user.token}}],
            "contexts": [{"name": context, "context": {
                "cluster": cluster,
                "user": user.name,
                "namespace": "default",
            }}],
            "current-context": context,
        });
        Ok(serde_yaml::to_string(&config).expect("a JSON value serializes as YAML"))
    }

    /// Writes the kubeconfig of `user` to `path` (mode 0600) and returns `path`.
    pub fn write_kubeconfig(&self, user: &str, path: &Path) -> Result<PathBuf> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let yaml = self.kubeconfig_yaml(user)?;
        let tmp = path.with_extension("tmp");
        let mut file = std::fs::File::options()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(Error::io(format!("writing {}", tmp.display())))?;
        file.write_all(yaml.as_bytes())
            .map_err(Error::io(format!("writing {}", tmp.display())))?;
        std::fs::rename(&tmp, path).map_err(Error::io(format!("writing {}", path.display())))?;
        Ok(path.to_path_buf())
    }

    /// Writes the kubeconfig of `user` into the control plane's directory and returns its path.
    pub fn kubeconfig_path_for(&self, user: &str) -> Result<PathBuf> {
        if user == ADMIN_USER {
            return Ok(self.kubeconfig.clone());
        }
        self.write_kubeconfig(user, &self.dir.join(format!("kubeconfig-{user}")))
    }

    /// A `kube::Config` for `user`.
    pub async fn config_for(&self, user: &str) -> Result<Config> {
        let yaml = self.kubeconfig_yaml(user)?;
        let kubeconfig_error = |source| Error::Kubeconfig {
            user: user.into(),
            source,
        };
        let kubeconfig = Kubeconfig::from_yaml(&yaml).map_err(kubeconfig_error)?;
        let mut config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(kubeconfig_error)?;
        config.connect_timeout = Some(Duration::from_secs(5));
        Ok(config)
    }

    /// A client acting as `user`. Build clients inside the runtime that uses them: a client's
    /// connections belong to the runtime it first ran on.
    pub async fn client_for(&self, user: &str) -> Result<Client> {
        let config = self.config_for(user).await?;
        Client::try_from(config).map_err(Error::kube(format!("building a client for {user}")))
    }

    /// A client in `system:masters`.
    pub async fn admin_client(&self) -> Result<Client> {
        self.client_for(ADMIN_USER).await
    }

    /// A client for [`RESTRICTED_USER`] (no permissions until RBAC grants some).
    pub async fn restricted_client(&self) -> Result<Client> {
        self.client_for(RESTRICTED_USER).await
    }
}
