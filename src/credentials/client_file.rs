//! The client file: everything one client needs to connect, as documented, versioned JSON. tollgate writes it
//! (encrypted, see [`super::seal`]); `tollgate client kubeconfig` and `tollgate client wg-config` turn it into
//! what kubectl and wg-quick read.
//!
//! It holds secrets (the token, the WireGuard private key): `Debug` masks them, so a log line never carries one.

use std::fmt;

use serde::{Deserialize, Serialize};

pub use crate::compile::subjects::Impersonation;
use crate::text::is_hidden;

/// Version of the client file format; readers refuse other versions.
pub const CLIENT_FILE_FORMAT_VERSION: u32 = 1;

/// What one client needs to reach one cluster (API server, token, WireGuard): the JSON that is sealed with age.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientFile {
    /// [`CLIENT_FILE_FORMAT_VERSION`] when written; [`ClientFile::parse`] refuses any other.
    pub format_version: u32,
    /// The `Client` document's name.
    pub client: String,
    /// The Settings cluster (tollgate instance) the file gives access to; with `client`, names the kubeconfig entries.
    pub cluster: String,
    /// How kubectl reaches the API server as the client's ServiceAccount.
    pub kubernetes: KubernetesAccess,
    /// Absent for a client with `vpn: false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wireguard: Option<WireGuardAccess>,
}

/// The kubeconfig half of a client file: the API server, the CA to trust and the ServiceAccount token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubernetesAccess {
    /// The API server URL clients talk to (Settings' `apiServer` of the cluster).
    pub server: String,
    /// PEM of the CA that signs the API server's certificate.
    pub certificate_authority: String,
    /// The ServiceAccount's token from the TokenRequest API.
    pub token: String,
    /// RFC 3339: when the token stops working; tollgate publishes a new one well before.
    pub token_expires: String,
    /// The namespace of the kubeconfig context (the client's `defaultNamespace`); absent: kubectl's own default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_namespace: Option<String>,
    /// Who the client acts as (Kubernetes impersonation: the kubeconfig's `as` and `as-groups`), so that its
    /// owner's `accessAs: user` grants apply; absent when the cluster has `impersonation: false` or no such grant
    /// reaches the owner. The ServiceAccount may impersonate exactly these names and no others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impersonate: Option<Impersonation>,
}

/// The wg-quick half of a client file: the client's key and range, and the cluster's gateway as its one peer.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WireGuardAccess {
    /// The client's private key, base64 as `wg` prints it.
    pub private_key: String,
    /// The client's range from the cluster's pool, e.g. `10.90.0.4/30`; the first address is the client's.
    pub address: String,
    /// The gateway's public key, base64, derived from the private key in the instance's shared state Secret.
    pub gateway_public_key: String,
    /// `host:port` of the cluster's WireGuard gateway.
    pub endpoint: String,
    /// What is routed through the tunnel.
    pub allowed_ips: Vec<String>,
    /// DNS servers wg-quick sets while the tunnel is up (the gateway's `dns`); empty: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<String>,
}

/// The API version of the exec credential plugin protocol that tollgate speaks (kubectl 1.22 and later).
pub const EXEC_CREDENTIAL_API_VERSION: &str = "client.authentication.k8s.io/v1";

/// How a kubeconfig's user entry authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// The token itself, in the kubeconfig (`tollgate client kubeconfig`).
    Token,
    /// An exec credential plugin that kubectl runs for a token (`tollgate client get-token`), so that no token is
    /// written to disk in plaintext.
    Exec {
        /// The program kubectl runs.
        command: String,
        /// Its arguments.
        args: Vec<String>,
    },
}

/// One client's named kubeconfig entries (see [`ClientFile::kubeconfig_entries`]).
#[derive(Debug, Clone, PartialEq)]
pub struct KubeconfigEntries {
    /// `{name, cluster: {server, certificate-authority-data}}`.
    pub cluster: serde_json::Value,
    /// `{name, user: {token | exec, as?, as-groups?}}`: the client as its owner (or as itself), then, for a
    /// client that acts as its owner, the client as itself.
    pub users: Vec<serde_json::Value>,
    /// `{name, context: {cluster, user, namespace?}}`, one per user entry.
    pub contexts: Vec<serde_json::Value>,
    /// The first context's name, for `current-context`.
    pub context_name: String,
    /// Names of user and context entries an earlier run may have written for this client and that it no longer
    /// has (the `as-client` pair of a client that stopped acting as its owner): removed from a kubeconfig.
    pub stale: Vec<String>,
}

impl fmt::Debug for ClientFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientFile")
            .field("client", &self.client)
            .field("cluster", &self.cluster)
            .field("server", &self.kubernetes.server)
            .field("token", &"<masked>")
            .field("token_expires", &self.kubernetes.token_expires)
            .field(
                "wireguard",
                &self
                    .wireguard
                    .as_ref()
                    .map(|w| (&w.address, "<private key masked>")),
            )
            .finish()
    }
}

/// Why a client file cannot be read, or cannot give a wg-quick configuration.
#[derive(Debug, thiserror::Error)]
pub enum ClientFileError {
    /// The bytes are not JSON, or not the shape of a client file (a missing or unknown field). The reason never
    /// quotes a value of the file: it holds a token.
    #[error("{path} is not a tollgate client file: {reason}")]
    Parse {
        /// The file the bytes came from, for the message.
        path: String,
        /// Where and what, without any value of the file.
        reason: String,
    },
    /// A value that tollgate would write into a kubeconfig or a wg-quick configuration is not what it must be.
    /// Anyone can encrypt a file to a public key, so a client file is checked like any untrusted input: a line
    /// break in `dns` must not become a `PostUp =` line for `wg-quick` to run as root.
    #[error("{path} is not a usable client file: `{field}` must be {expected}")]
    Invalid {
        /// The file the bytes came from, for the message.
        path: String,
        /// The field, e.g. `wireguard.dns[0]`.
        field: String,
        /// What the field must hold.
        expected: &'static str,
    },
    /// The file's `formatVersion` is not [`CLIENT_FILE_FORMAT_VERSION`].
    #[error(
        "{path} is a client file of format version {found}; this tollgate reads version {CLIENT_FILE_FORMAT_VERSION}"
    )]
    Version {
        /// The file the bytes came from, for the message.
        path: String,
        /// The `formatVersion` the file carries; 0 when it has none.
        found: u64,
    },
    /// A wg-quick configuration was asked of a client file without a WireGuard section.
    #[error(
        "the client file {path} of `{client}` has no WireGuard section: the client has `vpn: false`"
    )]
    NoWireGuard {
        /// The client file's path, for the message.
        path: String,
        /// The `Client` document's name.
        client: String,
    },
}

impl ClientFile {
    /// The file as pretty-printed JSON with a final newline: the plaintext that is HMAC'd and sealed.
    pub fn to_json(&self) -> String {
        let mut text =
            serde_json::to_string_pretty(self).expect("a client file serializes to JSON");
        text.push('\n');
        text
    }

    /// Reads a decrypted client file; `path` only names it in errors. The version is checked first, so a file of
    /// another format fails with [`ClientFileError::Version`] rather than a field error.
    pub fn parse(path: &str, bytes: &[u8]) -> Result<ClientFile, ClientFileError> {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|error| ClientFileError::Parse {
                path: path.to_owned(),
                reason: json_error(&error, ""),
            })?;
        let found = value["formatVersion"].as_u64().unwrap_or(0);
        if found != u64::from(CLIENT_FILE_FORMAT_VERSION) {
            return Err(ClientFileError::Version {
                path: path.to_owned(),
                found,
            });
        }
        let file: ClientFile =
            serde_path_to_error::deserialize(value).map_err(|error| ClientFileError::Parse {
                path: path.to_owned(),
                reason: json_error(error.inner(), &error.path().to_string()),
            })?;
        file.check(path)?;
        Ok(file)
    }

    /// Every value that ends up in a kubeconfig or a wg-quick configuration, checked as its consumer reads it.
    fn check(&self, path: &str) -> Result<(), ClientFileError> {
        use crate::validate::values;
        let invalid = |field: String, expected: &'static str| ClientFileError::Invalid {
            path: path.to_owned(),
            field,
            expected,
        };
        let label = "a DNS-1123 label (lower-case letters, digits and `-`)";
        if !values::is_dns1123_label(&self.client) {
            return Err(invalid("client".into(), label));
        }
        if !values::is_dns1123_label(&self.cluster) {
            return Err(invalid("cluster".into(), label));
        }
        let k = &self.kubernetes;
        if values::api_server(&k.server).is_err() {
            return Err(invalid("kubernetes.server".into(), "an https URL"));
        }
        if k.token.is_empty() || k.token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(
                "kubernetes.token".into(),
                "a token without white space",
            ));
        }
        if let Some(namespace) = &k.default_namespace
            && !values::is_dns1123_label(namespace)
        {
            return Err(invalid("kubernetes.defaultNamespace".into(), label));
        }
        if self.token_expires().is_none() {
            return Err(invalid(
                "kubernetes.tokenExpires".into(),
                "an RFC 3339 time such as `2026-11-23T12:00:00Z`",
            ));
        }
        if !k
            .certificate_authority
            .trim_start()
            .starts_with("-----BEGIN CERTIFICATE-----")
            || !k
                .certificate_authority
                .contains("-----END CERTIFICATE-----")
        {
            return Err(invalid(
                "kubernetes.certificateAuthority".into(),
                "PEM certificates (`-----BEGIN CERTIFICATE-----` ...)",
            ));
        }
        if let Some(identity) = &k.impersonate {
            // A name kubectl sends as an `Impersonate-User` / `Impersonate-Group` header: one line of text. RBAC
            // decides what the token may impersonate; this only keeps the kubeconfig and the headers well formed.
            let name = "a user or group name without control or text-direction characters";
            let ok = |text: &str| !text.is_empty() && !text.chars().any(is_hidden);
            if !ok(&identity.user) {
                return Err(invalid("kubernetes.impersonate.user".into(), name));
            }
            for (i, group) in identity.groups.iter().enumerate() {
                if !ok(group) {
                    return Err(invalid(format!("kubernetes.impersonate.groups[{i}]"), name));
                }
            }
        }
        let Some(wg) = &self.wireguard else {
            return Ok(());
        };
        let key = "a WireGuard key (44 characters of base64)";
        for (field, value) in [
            ("wireguard.privateKey", &wg.private_key),
            ("wireguard.gatewayPublicKey", &wg.gateway_public_key),
        ] {
            if !is_wireguard_key(value) {
                return Err(invalid(field.into(), key));
            }
        }
        if wg.address.parse::<ipnet::IpNet>().is_err() {
            return Err(invalid(
                "wireguard.address".into(),
                "a CIDR range such as `10.90.0.4/30`",
            ));
        }
        if values::wireguard_endpoint(&wg.endpoint).is_err() {
            return Err(invalid(
                "wireguard.endpoint".into(),
                "`host:port` or `[IPv6]:port`",
            ));
        }
        for (i, net) in wg.allowed_ips.iter().enumerate() {
            if net.parse::<ipnet::IpNet>().is_err() {
                return Err(invalid(
                    format!("wireguard.allowedIps[{i}]"),
                    "a CIDR network",
                ));
            }
        }
        for (i, ip) in wg.dns.iter().enumerate() {
            if ip.parse::<std::net::IpAddr>().is_err() {
                return Err(invalid(format!("wireguard.dns[{i}]"), "an IP address"));
            }
        }
        Ok(())
    }

    /// The name of the cluster, user and context entries this file gives a kubeconfig: `<cluster>/<client>`. `/`
    /// cannot occur in a cluster or client name (DNS-1123 labels), so `eu` + `west-laptop` and `eu-west` + `laptop`
    /// stay apart when kubectl merges kubeconfigs (it keeps the first entry of a name).
    pub fn kubeconfig_name(&self) -> String {
        format!("{}/{}", self.cluster, self.client)
    }

    /// The named kubeconfig entries for this client, each as kubectl's `config view -o json` shows one: the
    /// cluster (`server`, or `server_override`, and the CA), the user (`credential`, plus `as` / `as-groups` when
    /// the client acts as its owner) and the context (with the client's default namespace), named
    /// `context_name` or [`ClientFile::kubeconfig_name`]. A client that acts as its owner gets a second user and
    /// context, `<name>/as-client`, without `as`: its requests carry the client's own `accessAs: client` grants,
    /// which the owner's identity does not have.
    pub fn kubeconfig_entries(
        &self,
        credential: &Credential,
        context_name: Option<&str>,
        server_override: Option<&str>,
    ) -> KubeconfigEntries {
        use base64::Engine as _;
        let name = self.kubeconfig_name();
        let context_name = context_name.map_or_else(|| name.clone(), str::to_owned);
        let ca = base64::engine::general_purpose::STANDARD
            .encode(self.kubernetes.certificate_authority.as_bytes());
        let credential = match credential {
            Credential::Token => serde_json::json!({"token": self.kubernetes.token}),
            Credential::Exec { command, args } => serde_json::json!({"exec": {
                "apiVersion": EXEC_CREDENTIAL_API_VERSION,
                "command": command,
                "args": args,
                // A passphrase-protected identity is asked for on the terminal, when kubectl has one.
                "interactiveMode": "IfAvailable",
                "provideClusterInfo": false,
            }}),
        };
        let context = |user: &str| {
            let mut context = serde_json::json!({"cluster": name, "user": user});
            if let Some(namespace) = &self.kubernetes.default_namespace {
                context["namespace"] = namespace.clone().into();
            }
            context
        };
        let mut entries = KubeconfigEntries {
            cluster: serde_json::json!({"name": name, "cluster": {
                "server": server_override.unwrap_or(&self.kubernetes.server),
                "certificate-authority-data": ca,
            }}),
            users: Vec::new(),
            contexts: Vec::new(),
            context_name: context_name.clone(),
            stale: Vec::new(),
        };
        let mut user = credential.clone();
        if let Some(identity) = &self.kubernetes.impersonate {
            user["as"] = identity.user.clone().into();
            if !identity.groups.is_empty() {
                user["as-groups"] = identity.groups.clone().into();
            }
            let own = format!("{name}/as-client");
            entries
                .users
                .push(serde_json::json!({"name": own, "user": credential}));
            entries.contexts.push(serde_json::json!({
                "name": format!("{context_name}/as-client"),
                "context": context(&own),
            }));
        } else {
            entries.stale = vec![
                format!("{name}/as-client"),
                format!("{context_name}/as-client"),
            ];
        }
        entries
            .users
            .insert(0, serde_json::json!({"name": name, "user": user}));
        entries.contexts.insert(
            0,
            serde_json::json!({"name": context_name, "context": context(&name)}),
        );
        entries
    }

    /// A kubeconfig that stock kubectl uses as is: one cluster, the user(s) with the token, the context(s) of
    /// [`ClientFile::kubeconfig_entries`], the first one current.
    pub fn kubeconfig(&self) -> String {
        let entries = self.kubeconfig_entries(&Credential::Token, None, None);
        let config = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [entries.cluster],
            "users": entries.users,
            "contexts": entries.contexts,
            "current-context": entries.context_name,
        });
        crate::render::yaml::to_yaml(&config)
    }

    /// When the token stops working; `None` when `tokenExpires` is not a time (a parsed file's always is).
    pub fn token_expires(&self) -> Option<jiff::Timestamp> {
        self.kubernetes.token_expires.parse().ok()
    }

    /// The `ExecCredential` that `tollgate client get-token` prints for kubectl: the token and when it expires
    /// (client-go runs the plugin again after that).
    /// Source: <https://kubernetes.io/docs/reference/access-authn-authz/authentication/#input-and-output-formats>.
    pub fn exec_credential(&self) -> String {
        // RFC 3339 as Go's time package reads it (`Z`, a `T`, whole seconds), whatever spelling the file used; a
        // fraction is cut, never rounded up past the real expiry.
        let expires = self.token_expires().map_or_else(
            || self.kubernetes.token_expires.clone(),
            |t| {
                jiff::Timestamp::from_second(t.as_second())
                    .unwrap_or(t)
                    .to_string()
            },
        );
        let credential = serde_json::json!({
            "apiVersion": EXEC_CREDENTIAL_API_VERSION,
            "kind": "ExecCredential",
            "status": {
                "token": self.kubernetes.token,
                "expirationTimestamp": expires,
            },
        });
        let mut text =
            serde_json::to_string_pretty(&credential).expect("an ExecCredential serializes");
        text.push('\n');
        text
    }

    /// A wg-quick configuration (`wg-quick up ./tollgate.conf`).
    pub fn wg_quick(&self, path: &str) -> Result<String, ClientFileError> {
        let wg = self
            .wireguard
            .as_ref()
            .ok_or_else(|| ClientFileError::NoWireGuard {
                path: path.to_owned(),
                client: self.client.clone(),
            })?;
        let address = first_address(&wg.address);
        let mut text = format!(
            "# tollgate client `{}` of cluster `{}`\n[Interface]\nPrivateKey = {}\nAddress = {address}\n",
            self.client, self.cluster, wg.private_key
        );
        if !wg.dns.is_empty() {
            text.push_str(&format!("DNS = {}\n", wg.dns.join(", ")));
        }
        text.push_str(&format!(
            "\n[Peer]\nPublicKey = {}\nEndpoint = {}\nAllowedIPs = {}\nPersistentKeepalive = 25\n",
            wg.gateway_public_key,
            wg.endpoint,
            wg.allowed_ips.join(", ")
        ));
        Ok(text)
    }
}

/// A WireGuard key as `wg` prints it: 32 bytes in base64 (44 characters).
fn is_wireguard_key(text: &str) -> bool {
    use base64::Engine as _;
    text.len() == 44
        && base64::engine::general_purpose::STANDARD
            .decode(text)
            .is_ok_and(|bytes| bytes.len() == 32)
}

/// serde_json's complaint about a client file, without any value of the file (it would print the token): where
/// it is, and what was expected.
fn json_error(error: &serde_json::Error, field: &str) -> String {
    use serde_json::error::Category;
    let at = format!("line {}, column {}", error.line(), error.column());
    match error.classify() {
        Category::Io | Category::Eof => format!("the JSON ends early ({at})"),
        Category::Syntax => format!("it is not JSON ({at})"),
        Category::Data => {
            // Field names come from the file: shown, but never as terminal control sequences.
            let message: String = error
                .to_string()
                .chars()
                .map(|c| if is_hidden(c) { '?' } else { c })
                .collect();
            let message = message.split(" at line ").next().unwrap_or_default();
            let field: String = field
                .chars()
                .map(|c| if is_hidden(c) { '?' } else { c })
                .collect();
            let field = if field.is_empty() || field == "." {
                String::new()
            } else {
                format!("`{field}`: ")
            };
            if message.starts_with("missing field") || message.starts_with("unknown field") {
                format!("{field}{message}")
            } else {
                let expected = message
                    .rsplit(", expected ")
                    .next()
                    .filter(|_| message.contains(", expected "))
                    .map_or("another value", |e| {
                        if e.starts_with("struct ") || e.starts_with("map") {
                            "a JSON object"
                        } else if e.starts_with("a sequence") {
                            "a JSON list"
                        } else if e.len() <= 4 && e.starts_with(['u', 'i']) {
                            "a whole number"
                        } else {
                            e
                        }
                    });
                format!("{field}the value has the wrong type (expected {expected})")
            }
        }
    }
}

/// The client's own address in its range: the first one, as a host route (`10.90.0.4/32`).
fn first_address(range: &str) -> String {
    match range.parse::<ipnet::IpNet>() {
        Ok(net) => {
            let host_bits = if net.addr().is_ipv4() { 32 } else { 128 };
            format!("{}/{host_bits}", net.network())
        }
        Err(_) => range.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> ClientFile {
        ClientFile {
            format_version: CLIENT_FILE_FORMAT_VERSION,
            client: "bob-laptop".into(),
            cluster: "prod".into(),
            kubernetes: KubernetesAccess {
                server: "https://prod.k8s.example.com:6443".into(),
                certificate_authority:
                    "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".into(),
                token: "secret-token-value".into(),
                token_expires: "2026-11-23T12:00:00Z".into(),
                default_namespace: Some("payments".into()),
                impersonate: None,
            },
            wireguard: Some(WireGuardAccess {
                private_key: "Y2xpZW50LXByaXZhdGUta2V5LTMyLWJ5dGVzLWxvbmc=".into(),
                address: "10.91.0.4/30".into(),
                gateway_public_key: "Z2F0ZXdheS1wdWJsaWMta2V5LTMyLWJ5dGVzLWxvbmc=".into(),
                endpoint: "vpn.prod.example.com:51820".into(),
                allowed_ips: vec!["10.96.0.0/12".into(), "10.244.0.0/16".into()],
                dns: vec!["10.96.0.10".into()],
            }),
        }
    }

    #[test]
    fn debug_masks_the_secrets() {
        let text = format!("{:?}", sample());
        assert!(
            !text.contains("secret-token-value")
                && !text.contains("Y2xpZW50LXByaXZhdGUta2V5LTMyLWJ5dGVzLWxvbmc="),
            "{text}"
        );
        assert!(text.contains("bob-laptop"));
    }

    #[test]
    fn round_trips_and_refuses_other_versions() {
        let file = sample();
        assert_eq!(
            ClientFile::parse("f", file.to_json().as_bytes()).expect("parses"),
            file
        );
        let newer = file
            .to_json()
            .replace("\"formatVersion\": 1", "\"formatVersion\": 2");
        assert!(matches!(
            ClientFile::parse("f", newer.as_bytes()),
            Err(ClientFileError::Version { found: 2, .. })
        ));
    }

    #[test]
    fn kubeconfig_and_wg_quick() {
        let file = sample();
        insta::assert_snapshot!(file.kubeconfig());
        insta::assert_snapshot!(file.wg_quick("f").expect("has a WireGuard section"));
    }
}
