//! Validation of the `Settings` document: clusters (API servers, gateways, client pools), the clients namespace,
//! the token lifetime, the artifacts path, the deletion guard and who may sign the configuration.

use std::collections::BTreeMap;

use crate::config::Kind;
use crate::config::documents::VerifySpec;
use crate::config::source::DocRef;
use crate::diagnostics::Location;

use super::model::*;
use super::{Documents, Validator, field, key, values};

impl<'a> Validator<'a> {
    pub(super) fn settings(&mut self, docs: &Documents<'a>) -> Option<Settings> {
        let Some(&(doc, _, spec)) = docs.settings.first() else {
            let settings_broken = self
                .repo
                .broken
                .iter()
                .any(|(kind, _)| *kind == Kind::Settings);
            if !settings_broken && !self.names_unknowable() {
                self.error(
                    "missing-settings",
                    Location::Repository,
                    "the repository has no `Settings` document",
                )
                .hint =
                    Some("add one document of kind `Settings` that lists the clusters".to_owned());
            }
            return None;
        };
        for &(extra, _, _) in &docs.settings[1..] {
            let message = format!(
                "a second `Settings` document; a repository has exactly one (the first is at {})",
                self.describe(doc)
            );
            self.error("duplicate-settings", key(extra, "kind"), message);
        }

        let mut clusters = BTreeMap::new();
        let mut pools: Vec<(String, ipnet::IpNet, String)> = Vec::new();
        if spec.clusters.is_empty() {
            self.error(
                "no-clusters",
                key(doc, "spec.clusters"),
                "Settings must define at least one cluster",
            );
        }
        for (i, cluster) in spec.clusters.iter().enumerate() {
            let path = format!("spec.clusters[{i}]");
            if let Err((message, hint)) = values::dns1123_label(&cluster.name) {
                self.error("invalid-name", field(doc, format!("{path}.name")), message)
                    .hint = hint;
            }
            if clusters.contains_key(&cluster.name) {
                self.error(
                    "duplicate-name",
                    field(doc, format!("{path}.name")),
                    format!("duplicate cluster `{}`", cluster.name),
                );
                continue;
            }
            if let Err(message) = values::api_server(&cluster.api_server) {
                self.error(
                    "invalid-url",
                    field(doc, format!("{path}.apiServer")),
                    message,
                );
            }
            let gateway = cluster.gateway.as_ref().map(|gateway| {
                if let Err(message) = values::wireguard_endpoint(&gateway.endpoint) {
                    self.error(
                        "invalid-endpoint",
                        field(doc, format!("{path}.gateway.endpoint")),
                        message,
                    );
                }
                let mut allowed_ips = Vec::new();
                for (j, text) in gateway.allowed_ips.iter().enumerate() {
                    match text.parse::<ipnet::IpNet>() {
                        Ok(net) => allowed_ips.push(net),
                        Err(_) => {
                            self.error(
                                "invalid-cidr",
                                field(doc, format!("{path}.gateway.allowedIps[{j}]")),
                                format!("`{text}` is not a CIDR network such as `10.96.0.0/12`"),
                            );
                        }
                    }
                }
                let mut dns = Vec::new();
                for (j, text) in gateway.dns.iter().enumerate() {
                    match text.parse() {
                        Ok(ip) => dns.push(ip),
                        Err(_) => {
                            self.error(
                                "invalid-ip",
                                field(doc, format!("{path}.gateway.dns[{j}]")),
                                format!("`{text}` is not an IP address"),
                            );
                        }
                    }
                }
                Gateway {
                    endpoint: gateway.endpoint.clone(),
                    allowed_ips,
                    dns,
                }
            });
            let client_pool = cluster.client_pool.as_ref().and_then(|pool| {
                let Ok(cidr) = pool.cidr.parse::<ipnet::IpNet>() else {
                    self.error(
                        "invalid-cidr",
                        field(doc, format!("{path}.clientPool.cidr")),
                        format!("`{}` is not a CIDR network such as `10.90.0.0/16`", pool.cidr),
                    );
                    return None;
                };
                if cidr != cidr.trunc() {
                    self.error(
                        "invalid-cidr",
                        field(doc, format!("{path}.clientPool.cidr")),
                        format!("`{}` has host bits set", pool.cidr),
                    )
                    .hint = Some(format!("did you mean `{}`?", cidr.trunc()));
                    return None;
                }
                if pool.per_client_prefix < cidr.prefix_len() || pool.per_client_prefix > cidr.max_prefix_len() {
                    self.error(
                        "prefix-outside-pool",
                        field(doc, format!("{path}.clientPool.perClientPrefix")),
                        format!(
                            "a /{} range does not fit in the pool {cidr}: the prefix must be between {} and {}",
                            pool.per_client_prefix,
                            cidr.prefix_len(),
                            cidr.max_prefix_len()
                        ),
                    );
                    return None;
                }
                for (other, other_cidr, _) in &pools {
                    if other_cidr.contains(&cidr.network()) || cidr.contains(&other_cidr.network()) {
                        let message = format!("pool {cidr} overlaps the pool {other_cidr} of cluster `{other}`");
                        self.error("overlapping-pools", field(doc, format!("{path}.clientPool.cidr")), message);
                    }
                }
                pools.push((cluster.name.clone(), cidr, path.clone()));
                Some(ClientPool {
                    cidr,
                    per_client_prefix: pool.per_client_prefix,
                })
            });
            clusters.insert(
                cluster.name.clone(),
                Cluster {
                    name: cluster.name.clone(),
                    api_server: cluster.api_server.clone(),
                    gateway,
                    client_pool,
                    impersonation: cluster.impersonation,
                },
            );
        }
        for (path, namespace) in [
            ("spec.clientsNamespace", &spec.clients_namespace),
            ("spec.controllerNamespace", &spec.controller_namespace),
        ] {
            if let Err((message, hint)) = values::dns1123_label(namespace) {
                self.error("invalid-name", field(doc, path), message).hint = hint;
            }
        }
        if SYSTEM_NAMESPACES.contains(&spec.clients_namespace.as_str()) {
            self.error(
                "reserved-namespace",
                field(doc, "spec.clientsNamespace"),
                format!(
                    "`{}` belongs to Kubernetes; tollgate owns the clients namespace (creates it, and would prune \
                     it) and must never own a system namespace",
                    spec.clients_namespace
                ),
            )
            .hint = Some("leave it out for `tollgate-clients`, or name a namespace of tollgate's own".to_owned());
        }
        if spec.clients_namespace == spec.controller_namespace {
            self.error(
                "reserved-namespace",
                field(doc, "spec.clientsNamespace"),
                "the clients namespace holds client credentials; the controller's namespace must be another one",
            );
        }
        for (i, cluster) in spec.clusters.iter().enumerate() {
            if let (Some(gateway), Some(pool)) = (
                clusters
                    .get(&cluster.name)
                    .and_then(|c: &Cluster| c.gateway.as_ref()),
                clusters
                    .get(&cluster.name)
                    .and_then(|c: &Cluster| c.client_pool),
            ) {
                for (j, allowed) in gateway.allowed_ips.iter().enumerate() {
                    if allowed.contains(&pool.cidr.network())
                        || pool.cidr.contains(&allowed.network())
                    {
                        self.error(
                            "pool-overlaps-routes",
                            field(doc, format!("spec.clusters[{i}].gateway.allowedIps[{j}]")),
                            format!(
                                "{allowed} overlaps the client pool {}: clients would route their own tunnel \
                                 addresses into the tunnel",
                                pool.cidr
                            ),
                        )
                        .hint = Some("choose a client pool outside every allowedIps network".to_owned());
                    }
                }
            }
        }
        for (path, prefix) in [
            ("spec.subjectPrefixes.user", &spec.subject_prefixes.user),
            ("spec.subjectPrefixes.group", &spec.subject_prefixes.group),
        ] {
            if prefix.starts_with("system:") {
                self.error(
                    "reserved-subject",
                    field(doc, path),
                    format!(
                        "`{prefix}` would make every subject a Kubernetes system identity (`system:...`: anonymous \
                         callers, every authenticated user, ServiceAccounts), not a person"
                    ),
                );
            }
        }
        let token_lifetime = match values::duration(&spec.token_lifetime) {
            Ok(duration)
                if !(values::MIN_TOKEN_LIFETIME_SECS..=values::MAX_TOKEN_LIFETIME_SECS)
                    .contains(&duration.as_secs()) =>
            {
                self.error(
                    "invalid-duration",
                    field(doc, "spec.tokenLifetime"),
                    format!(
                        "`{}` is outside what the TokenRequest API issues: at least 10m, at most {}s (2^32 seconds)",
                        spec.token_lifetime,
                        values::MAX_TOKEN_LIFETIME_SECS
                    ),
                );
                None
            }
            Ok(duration) => Some(duration),
            Err(message) => {
                self.error(
                    "invalid-duration",
                    field(doc, "spec.tokenLifetime"),
                    message,
                );
                None
            }
        };
        let artifacts_path = spec.artifacts_path.trim_matches('/');
        // Not `.git` or any dot-folder: Git's own, or skipped when reading (nothing could be published there).
        if artifacts_path.is_empty()
            || artifacts_path
                .split('/')
                .any(|part| part.starts_with('.') || part.is_empty())
        {
            self.error(
                "invalid-path",
                field(doc, "spec.artifactsPath"),
                format!(
                    "`{}` must be a relative folder inside the repository",
                    spec.artifacts_path
                ),
            );
        }
        if spec.deletion_guard.max_delete_percent > 100 {
            self.error(
                "invalid-value",
                field(doc, "spec.deletionGuard.maxDeletePercent"),
                "a percentage must be between 0 and 100",
            );
        }
        let verify = spec
            .verify
            .as_ref()
            .map(|verify| self.verify_keys(doc, verify));
        Some(Settings {
            clusters,
            clients_namespace: spec.clients_namespace.clone(),
            controller_namespace: spec.controller_namespace.clone(),
            token_lifetime: token_lifetime?,
            artifacts_path: artifacts_path.to_owned(),
            deletion_guard: DeletionGuard {
                max_delete_percent: spec.deletion_guard.max_delete_percent,
                min_objects: spec.deletion_guard.min_objects,
            },
            subject_prefixes: SubjectPrefixes {
                user: spec.subject_prefixes.user.clone(),
                group: spec.subject_prefixes.group.clone(),
            },
            verify,
            origin: self.origin(doc),
        })
    }

    /// `spec.verify` apart from its references: each key must be an OpenSSH public key of a kind Git signs with.
    fn verify_keys(&mut self, doc: DocRef, verify: &VerifySpec) -> Verify {
        let mut keys = Vec::new();
        for (i, text) in verify.signers.keys.iter().enumerate() {
            let path = format!("spec.verify.signers.keys[{i}]");
            match ssh_key::PublicKey::from_openssh(text.trim()) {
                Ok(key) if SIGNING_ALGORITHMS.contains(&key.algorithm().as_str()) => {
                    let comment = key.comment().trim();
                    let principal = if comment.is_empty() {
                        format!("key {}", i + 1)
                    } else {
                        format!("key {comment}")
                    };
                    let mut bare = key.clone();
                    bare.set_comment("");
                    let openssh = bare.to_openssh().expect("a parsed key encodes");
                    keys.push((principal, openssh));
                }
                Ok(key) => {
                    self.error(
                        "invalid-key",
                        field(doc, path),
                        format!(
                            "a `{}` key cannot be checked here; Git's SSH signatures are verified for {}",
                            key.algorithm().as_str(),
                            SIGNING_ALGORITHMS.join(", ")
                        ),
                    );
                }
                Err(_) => {
                    self.error(
                        "invalid-key",
                        field(doc, path),
                        "expected an OpenSSH public key, one line such as `ssh-ed25519 AAAAC3Nza... name` (the \
                         content of a `.pub` file)",
                    );
                }
            }
        }
        Verify {
            users: verify.signers.users.iter().cloned().collect(),
            groups: verify.signers.groups.iter().cloned().collect(),
            keys,
            allow_unsigned: verify.allow_unsigned,
        }
    }

    /// `spec.verify`'s references: listed users and groups exist, each listed user has an SSH key to sign with, and
    /// someone active can sign unless unsigned commits are allowed (a disabled or expired signer, or a group none
    /// of whose active members has an SSH key, signs nothing: warned; nobody at all would lock every later commit
    /// out: an error).
    pub(super) fn verify_signers(
        &mut self,
        docs: &Documents<'a>,
        users: &BTreeMap<String, User>,
        groups: &BTreeMap<String, Group>,
    ) {
        let Some(&(doc, _, spec)) = docs.settings.first() else {
            return;
        };
        let Some(verify) = &spec.verify else {
            return;
        };
        let now = self.now;
        let can_sign = |user: &User| {
            user.is_active(now)
                && user
                    .recipients
                    .iter()
                    .any(|r| r.kind != RecipientKind::X25519)
        };
        let mut anyone = !verify.signers.keys.is_empty();
        // When each signer's access ends (`None`: never): once all have, no commit can be verified.
        let mut ends: Vec<Option<jiff::Timestamp>> =
            verify.signers.keys.iter().map(|_| None).collect();
        for (i, name) in verify.signers.users.iter().enumerate() {
            let path = format!("spec.verify.signers.users[{i}]");
            if !self.reference(doc, path.clone(), Kind::User, name, &docs.users) {
                continue;
            }
            let Some(user) = users.get(name) else {
                continue;
            };
            if user
                .recipients
                .iter()
                .all(|r| r.kind == RecipientKind::X25519)
            {
                self.error(
                    "signer-without-key",
                    field(doc, path),
                    format!(
                        "user `{name}` has no SSH key in `recipients` to sign with (an age key cannot sign)"
                    ),
                )
                .hint = Some(format!(
                    "add the `ssh-ed25519` or `ssh-rsa` key {name} signs commits with to their `recipients`"
                ));
            } else if !user.is_active(now) {
                self.warning(
                    "signer-inactive",
                    field(doc, path),
                    format!(
                        "user `{name}` is disabled or expired: their signature is not accepted"
                    ),
                );
            } else {
                anyone = true;
                ends.push(user.expires);
            }
        }
        for (i, name) in verify.signers.groups.iter().enumerate() {
            let path = format!("spec.verify.signers.groups[{i}]");
            if !self.reference(doc, path.clone(), Kind::Group, name, &docs.groups) {
                continue;
            }
            let signing: Vec<&User> = members(groups, [name.as_str()])
                .iter()
                .filter_map(|m| users.get(*m))
                .filter(|u| can_sign(u))
                .collect();
            if signing.is_empty() {
                self.warning(
                    "signers-without-key",
                    field(doc, path),
                    format!(
                        "no active member of group `{name}` has an SSH key in `recipients`: nobody in it can sign"
                    ),
                );
            } else {
                anyone = true;
                ends.extend(signing.iter().map(|u| u.expires));
            }
        }
        if !verify.allow_unsigned
            && !ends.is_empty()
            && let Some(last) = ends
                .iter()
                .copied()
                .collect::<Option<Vec<_>>>()
                .and_then(|e| e.into_iter().max())
        {
            self.warning(
                "signers-expire",
                field(doc, "spec.verify.signers"),
                format!(
                    "every signer's access ends, the last at {last}: after that no commit can be verified, and only \
                     a person applying a checkout with `tollgate apply --repo` can change the signers"
                ),
            );
        }
        if !anyone && !verify.allow_unsigned {
            self.error(
                "no-signers",
                field(doc, "spec.verify.signers"),
                "nobody listed can sign (no active user with an SSH key, no key): every later commit would be \
                 refused",
            )
            .hint = Some(
                "list the users, groups or keys that sign the configuration, or leave `verify` out".to_owned(),
            );
        }
    }
}

/// The SSH key types whose signatures tollgate verifies (ssh-key's algorithms with `ed25519`, `rsa` and ECDSA).
const SIGNING_ALGORITHMS: [&str; 4] = [
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
];
