//! The client file: everything one client needs to connect, as documented, versioned JSON. tollgate writes it
//! (encrypted, see [`super::seal`]); `tollgate client kubeconfig` and `tollgate client wg-config` turn it into
//! what kubectl and wg-quick read.
//!
//! It holds secrets (the token, the WireGuard private key): `Debug` masks them, so a log line never carries one.

use std::fmt;

use serde::{Deserialize, Serialize};

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

    /// A kubeconfig that stock kubectl uses as is: one cluster, one user with the token, one current context.
    pub fn kubeconfig(&self) -> String {
        use base64::Engine as _;
        // `/` cannot occur in a cluster or client name (DNS-1123 labels): `eu` + `west-laptop` and `eu-west` +
        // `laptop` stay apart when kubectl merges kubeconfigs (it keeps the first entry of a name).
        let name = format!("{}/{}", self.cluster, self.client);
        let ca = base64::engine::general_purpose::STANDARD
            .encode(self.kubernetes.certificate_authority.as_bytes());
        let mut context = serde_json::json!({"cluster": name, "user": name});
        if let Some(namespace) = &self.kubernetes.default_namespace {
            context["namespace"] = namespace.clone().into();
        }
        let config = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": {
                "server": self.kubernetes.server,
                "certificate-authority-data": ca,
            }}],
            "users": [{"name": name, "user": {"token": self.kubernetes.token}}],
            "contexts": [{"name": name, "context": context}],
            "current-context": name,
        });
        crate::render::yaml::to_yaml(&config)
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
            let message = error.to_string();
            let message = message.split(" at line ").next().unwrap_or_default();
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
