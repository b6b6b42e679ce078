//! The session directory: what the session gateway needs from the repository, published by the controller after
//! each apply as ConfigMap [`SESSIONS_CONFIGMAP`] in the clients namespace. Only public data: users' SSH public
//! keys, the identities the RBAC authorizer is asked about, and each environment's session settings. Pure.

use std::collections::BTreeSet;

use ipnet::IpNet;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::compile::sessions::pod_template_name;
use crate::rbac::UserInfo;
use crate::validate::model::{AccessModel, RecipientKind, nested_groups};

/// Version of the published directory; a gateway refuses other versions rather than guess.
pub const SESSIONS_FORMAT_VERSION: u32 = 1;
/// The ConfigMap, in the clients namespace, that holds the [`SessionDirectory`] under [`SESSIONS_KEY`].
pub const SESSIONS_CONFIGMAP: &str = "tollgate-sessions";
/// The data key of the directory in [`SESSIONS_CONFIGMAP`].
pub const SESSIONS_KEY: &str = "sessions.json";

/// Everything the session gateway knows of the repository. Unknown fields are ignored (a newer controller's
/// directory does not stop an older gateway; incompatible changes raise [`SESSIONS_FORMAT_VERSION`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionDirectory {
    /// [`SESSIONS_FORMAT_VERSION`].
    pub format_version: u32,
    /// The Settings cluster (tollgate instance) this directory belongs to.
    pub cluster: String,
    /// Every user with an SSH key (`ssh-ed25519` or `ssh-rsa` recipient), active or not, by name.
    pub users: Vec<LoginUser>,
    /// The environments of the cluster, by name.
    pub environments: Vec<SessionEnvironment>,
}

/// A person who may try to log in: their keys and who they are to the RBAC authorizer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginUser {
    /// The `User` document's name: the first part of the SSH login name.
    pub name: String,
    /// The user's SSH public keys as OpenSSH writes them (`ssh-ed25519 AAAA...`), without comments.
    pub keys: Vec<String>,
    /// A disabled user is refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
    /// A user is refused from this instant on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<Timestamp>,
    /// The `Group` documents the user is in, directly or through nesting (for `login.groups`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Whom the authorizer is asked about: the user's RBAC `User` subject and `Group` subjects (`accessAs: user`
    /// grants), then the ServiceAccount of each live client of this cluster the user owns (`accessAs: client`).
    pub identities: Vec<UserInfo>,
}

/// One environment's session settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionEnvironment {
    /// The `Environment` document's name: the second part of the SSH login name.
    pub name: String,
    /// Where its session pods run.
    pub namespace: String,
    /// The PodTemplate sessions start from, in `namespace`.
    pub template: String,
    /// What an interactive login runs.
    pub shell: Vec<String>,
    /// What a login with a command runs, followed by the command as one more argument.
    pub exec_command: Vec<String>,
    /// What the `sftp` subsystem runs; `None`: refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sftp_command: Option<Vec<String>>,
    /// Seconds a session pod may take to become ready.
    pub ready_timeout_seconds: u64,
    /// Seconds the removal of a session pod may take.
    pub remove_timeout_seconds: u64,
    /// Seconds a session may last (the pod's `activeDeadlineSeconds`).
    pub max_session_seconds: u64,
    /// Whether `ssh -L` / `ssh -D` may be used.
    pub port_forwarding: bool,
    /// Shown after the pod is ready; `{user}` and `{environment}` are replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banner: Option<String>,
    /// Only members of one of these groups may log in; empty: anyone granted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub login_groups: Vec<String>,
    /// Only connections from these networks may log in; empty: from anywhere.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub login_networks: Vec<IpNet>,
}

impl SessionDirectory {
    /// The directory of `cluster` at `now`: the clients a user owns count when they are live then.
    pub fn of(model: &AccessModel, cluster: &str, now: Timestamp) -> SessionDirectory {
        let prefixes = &model.settings.subject_prefixes;
        let users = model
            .users
            .values()
            .filter_map(|user| {
                let keys: Vec<String> = user
                    .recipients
                    .iter()
                    .filter(|r| matches!(r.kind, RecipientKind::SshEd25519 | RecipientKind::SshRsa))
                    .map(|r| r.key.clone())
                    .collect();
                if keys.is_empty() {
                    return None;
                }
                let direct = model
                    .groups
                    .values()
                    .filter(|g| g.members.contains(&user.name))
                    .map(|g| g.name.as_str());
                // The groups containing the user: those listing them, and every group those are nested in.
                let mut groups = BTreeSet::new();
                for group in direct {
                    groups.insert(group);
                    for parent in model.groups.values() {
                        if nested_groups(&model.groups, [parent.name.as_str()]).contains(group) {
                            groups.insert(parent.name.as_str());
                        }
                    }
                }
                let mut identities = vec![UserInfo {
                    name: prefixes.user_subject(user),
                    groups: groups
                        .iter()
                        .filter_map(|g| model.groups.get(*g))
                        .map(|g| prefixes.group_subject(g))
                        .chain(["system:authenticated".to_owned()])
                        .collect(),
                }];
                identities.extend(
                    model
                        .clients
                        .values()
                        .filter(|c| c.owners.contains(&user.name))
                        .filter(|c| model.client_is_live(c, cluster, now))
                        .map(|c| {
                            UserInfo::service_account(&model.settings.clients_namespace, &c.name)
                        }),
                );
                Some(LoginUser {
                    name: user.name.clone(),
                    keys,
                    disabled: user.disabled,
                    expires: user.expires,
                    groups: groups.into_iter().map(str::to_owned).collect(),
                    identities,
                })
            })
            .collect();
        let environments = model
            .environments_in(cluster)
            .map(|e| SessionEnvironment {
                name: e.name.clone(),
                namespace: e.namespace.clone(),
                template: pod_template_name(&e.name),
                shell: e.shell.clone(),
                exec_command: e.exec_command.clone(),
                sftp_command: e.sftp_command.clone(),
                ready_timeout_seconds: e.ready_timeout.as_secs().unsigned_abs(),
                remove_timeout_seconds: e.remove_timeout.as_secs().unsigned_abs(),
                max_session_seconds: e.max_session_duration.as_secs().unsigned_abs(),
                port_forwarding: e.port_forwarding,
                banner: e.banner.clone(),
                login_groups: e.login_groups.iter().cloned().collect(),
                login_networks: e.login_networks.clone(),
            })
            .collect();
        SessionDirectory {
            format_version: SESSIONS_FORMAT_VERSION,
            cluster: cluster.to_owned(),
            users,
            environments,
        }
    }

    /// The JSON text published in the ConfigMap; deterministic, so an unchanged directory is not rewritten.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the directory serializes")
    }

    /// Reads a published directory.
    ///
    /// Errors: the JSON does not parse, or its format version is not [`SESSIONS_FORMAT_VERSION`].
    pub fn from_json(text: &str) -> Result<SessionDirectory, String> {
        // The version first: another version's fields are not this one's, and its parse error would mislead.
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Version {
            format_version: Option<u32>,
        }
        let version = serde_json::from_str::<Version>(text)
            .map_err(|e| format!("the session directory does not parse: {e}"))?
            .format_version;
        if version != Some(SESSIONS_FORMAT_VERSION) {
            return Err(format!(
                "the session directory has format version {}, this gateway reads version {SESSIONS_FORMAT_VERSION}: \
                 run the gateway of the controller's release",
                version.map_or_else(|| "none".to_owned(), |v| v.to_string())
            ));
        }
        serde_json::from_str(text).map_err(|e| format!("the session directory does not parse: {e}"))
    }

    /// The user one of whose keys is `key` (OpenSSH form without comment), if any.
    pub fn user_with_key(&self, key: &str) -> Option<&LoginUser> {
        self.users.iter().find(|u| u.keys.iter().any(|k| k == key))
    }

    /// The environment named `name`.
    pub fn environment(&self, name: &str) -> Option<&SessionEnvironment> {
        self.environments.iter().find(|e| e.name == name)
    }
}

/// What an SSH login name asks for: `alice+toolbox` (user and environment) or `alice` (the one environment alice
/// may use). A `+` cannot occur in a user or environment name (DNS-1123 labels), so the split is unambiguous.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginName<'a> {
    /// The `User` document's name.
    pub user: &'a str,
    /// The environment, when named.
    pub environment: Option<&'a str>,
}

impl<'a> LoginName<'a> {
    /// Splits a login name at its first `+`.
    pub fn parse(text: &'a str) -> LoginName<'a> {
        match text.split_once('+') {
            Some((user, environment)) => LoginName {
                user,
                environment: Some(environment),
            },
            None => LoginName {
                user: text,
                environment: None,
            },
        }
    }
}

/// Why a login is refused before any pod exists; each is logged and shown to the person (who proved their key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No user of the repository has the offered key.
    #[error("no user of the repository has this key")]
    UnknownKey,
    /// The key belongs to another user than the login name says.
    #[error("this key is {owner}'s, not {asked}'s")]
    WrongUser {
        /// Whose key it is.
        owner: String,
        /// The user the login name names.
        asked: String,
    },
    /// The user is disabled in the repository.
    #[error("user {0} is disabled")]
    Disabled(String),
    /// The user's `expires` has passed.
    #[error("user {user} expired at {at}")]
    Expired {
        /// The user.
        user: String,
        /// When.
        at: Timestamp,
    },
    /// The environment the login name names does not exist in this cluster.
    #[error("there is no environment {0} in this cluster")]
    UnknownEnvironment(String),
    /// The login name ends in `+`: no environment after it.
    #[error(
        "nothing follows `+` in the login name; name an environment, e.g. `ssh USER+ENVIRONMENT@...`"
    )]
    NoEnvironmentNamed,
    /// The decision cannot be made now (the authorizer or the directory cannot be read); nothing is wrong with
    /// the login itself.
    #[error("the gateway cannot decide now: {0}")]
    Unavailable(String),
    /// The authorizer allowed none of the user's identities to use the environment.
    #[error("{user} may not log in to {environment}: no grant allows it (or it expired)")]
    NotGranted {
        /// The user.
        user: String,
        /// The environment.
        environment: String,
    },
    /// No environment named and the user may use none or several.
    #[error("{user} may log in to {}; name one, e.g. `ssh {user}+ENVIRONMENT@...`", list(.allowed))]
    ChooseEnvironment {
        /// The user.
        user: String,
        /// The environments the authorizer allows them, possibly none.
        allowed: Vec<String>,
    },
    /// `login.groups` of the environment holds and the user is in none of them.
    #[error("{environment} admits only members of {}", .groups.join(", "))]
    NotInGroup {
        /// The environment.
        environment: String,
        /// Its login groups.
        groups: Vec<String>,
    },
    /// `login.sourceNetworks` holds and the connection comes from elsewhere.
    #[error("{environment} admits logins only from {}; this connection comes from {address}", .networks.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
    NotFromNetwork {
        /// The environment.
        environment: String,
        /// Its source networks.
        networks: Vec<IpNet>,
        /// Where the connection comes from.
        address: std::net::IpAddr,
    },
}

/// A login name as it may appear in the log: at most 64 characters, control characters escaped. Login names come
/// from anyone who connects: every part of one that a refusal quotes goes through this.
pub fn shown(name: &str) -> String {
    let mut text: String = name.chars().take(64).flat_map(char::escape_debug).collect();
    if name.chars().count() > 64 {
        text.push_str("...");
    }
    text
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "no environment".to_owned()
    } else {
        names.join(", ")
    }
}

/// Whom `key` identifies, as the login name asks: the user, or why not (unknown, someone else's, disabled,
/// expired).
pub fn identify<'d>(
    directory: &'d SessionDirectory,
    login: &LoginName<'_>,
    key: &str,
    now: Timestamp,
) -> Result<&'d LoginUser, Refusal> {
    let user = directory.user_with_key(key).ok_or(Refusal::UnknownKey)?;
    if user.name != login.user {
        return Err(Refusal::WrongUser {
            owner: user.name.clone(),
            asked: shown(login.user),
        });
    }
    if user.disabled {
        return Err(Refusal::Disabled(user.name.clone()));
    }
    if let Some(at) = user.expires
        && at <= now
    {
        return Err(Refusal::Expired {
            user: user.name.clone(),
            at,
        });
    }
    Ok(user)
}

/// The conditions of an environment's `login` beyond the grant: group membership and source network.
pub fn admits(
    environment: &SessionEnvironment,
    user: &LoginUser,
    address: Option<std::net::IpAddr>,
) -> Result<(), Refusal> {
    if !environment.login_groups.is_empty()
        && !environment
            .login_groups
            .iter()
            .any(|g| user.groups.contains(g))
    {
        return Err(Refusal::NotInGroup {
            environment: environment.name.clone(),
            groups: environment.login_groups.clone(),
        });
    }
    if !environment.login_networks.is_empty() {
        let from = address.map(|a| match a {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(a, std::net::IpAddr::V4),
            v4 @ std::net::IpAddr::V4(_) => v4,
        });
        if !from.is_some_and(|a| environment.login_networks.iter().any(|n| n.contains(&a))) {
            return Err(Refusal::NotFromNetwork {
                environment: environment.name.clone(),
                networks: environment.login_networks.clone(),
                address: from.unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
            });
        }
    }
    Ok(())
}
