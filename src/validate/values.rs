//! Parsers for the string values of the repository format: names, durations, timestamps, keys, networks and
//! capabilities. Each returns a message fit for a diagnostic.

use std::str::FromStr;

use jiff::{SignedDuration, Timestamp};

use super::model::{Recipient, RecipientKind};

const DNS_LABEL_RULE: &str = "lower-case letters, digits and `-`, starting and ending with a letter or digit, at most 63 characters";

/// RFC 1123 label: what Kubernetes requires of namespace names and what tollgate requires of document names.
pub fn is_dns1123_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// RFC 1123 subdomain: what Kubernetes requires of ServiceAccount and Secret names.
pub fn is_dns1123_subdomain(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Checks a name is a DNS-1123 label, as Kubernetes' `IsDNS1123Label`. The error is a message and, when lower-casing
/// and turning `_`, `.` and spaces into `-` makes the name valid, a hint naming the result.
pub fn dns1123_label(name: &str) -> Result<(), (String, Option<String>)> {
    if is_dns1123_label(name) {
        return Ok(());
    }
    let suggestion: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c == '_' || c == '.' || c == ' ' {
                '-'
            } else {
                c
            }
        })
        .collect();
    let hint = is_dns1123_label(&suggestion).then(|| format!("try `{suggestion}`"));
    Err((
        format!("`{name}` is not a valid name: it must be a DNS-1123 label ({DNS_LABEL_RULE})"),
        hint,
    ))
}

/// Checks a name is a DNS-1123 subdomain, as Kubernetes' `IsDNS1123Subdomain`; the error is a message.
pub fn dns1123_subdomain(name: &str) -> Result<(), String> {
    if is_dns1123_subdomain(name) {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a valid Kubernetes object name: it must be a DNS-1123 subdomain (dot-separated labels of {DNS_LABEL_RULE}; at most 253 characters)"
        ))
    }
}

/// A positive duration such as `24h`, `90m` or `1h30m`.
pub fn duration(text: &str) -> Result<SignedDuration, String> {
    match SignedDuration::from_str(text) {
        Ok(duration) if duration.is_positive() => Ok(duration),
        Ok(_) => Err(format!("duration `{text}` must be positive")),
        Err(_) => Err(format!(
            "`{text}` is not a duration: write it like `24h`, `90m` or `1h30m`"
        )),
    }
}

/// An RFC 3339 timestamp with a UTC offset, e.g. `2027-01-31T18:00:00Z`.
pub fn timestamp(text: &str) -> Result<Timestamp, String> {
    Timestamp::from_str(text).map_err(|_| {
        format!("`{text}` is not an RFC 3339 timestamp: write it like `2027-01-31T18:00:00Z`")
    })
}

/// An age X25519 recipient (`age1...`) or an SSH public key (`ssh-ed25519 ...`, `ssh-rsa ...`), checked with the
/// age crate itself so that whatever validates here can be encrypted to later.
pub fn recipient(text: &str) -> Result<Recipient, String> {
    let text = text.trim();
    if text.starts_with("age1") {
        return age::x25519::Recipient::from_str(text)
            .map(|_| Recipient {
                kind: RecipientKind::X25519,
                key: text.to_owned(),
            })
            .map_err(|e| {
                format!(
                    "`{}` is not a valid age X25519 recipient: {e}",
                    abbreviate(text)
                )
            });
    }
    let kind = if text.starts_with("ssh-ed25519 ") {
        RecipientKind::SshEd25519
    } else if text.starts_with("ssh-rsa ") {
        RecipientKind::SshRsa
    } else {
        return Err(format!(
            "`{}` is not a recipient: use an age X25519 key (`age1...`) or an SSH public key (`ssh-ed25519 ...` or `ssh-rsa ...`)",
            abbreviate(text)
        ));
    };
    // Compare keys without their comment: the same key with two comments is the same recipient.
    let key: Vec<&str> = text.split_whitespace().take(2).collect();
    let key = key.join(" ");
    match age::ssh::Recipient::from_str(&key) {
        Ok(_) => Ok(Recipient { kind, key }),
        Err(e) => Err(format!(
            "`{}` is not a valid SSH public key: {e:?}",
            abbreviate(text)
        )),
    }
}

fn abbreviate(text: &str) -> String {
    if text.chars().count() > 40 {
        let head: String = text.chars().take(37).collect();
        format!("{head}...")
    } else {
        text.to_owned()
    }
}

/// Linux capability names as the kernel defines them (capability.h), without the `CAP_` prefix.
pub const CAPABILITIES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// A capability name, with or without `CAP_`, in any case; returns the Kubernetes spelling. `ALL` is allowed
/// (Kubernetes uses it in `drop: [ALL]`).
pub fn capability(text: &str) -> Result<String, (String, Option<String>)> {
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("CAP_").unwrap_or(&upper);
    if name == "ALL" || CAPABILITIES.contains(&name) {
        return Ok(name.to_owned());
    }
    let hint = crate::diagnostics::did_you_mean(name, CAPABILITIES.iter().copied());
    Err((format!("`{text}` is not a Linux capability"), hint))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_dns1123_label("team-a"));
        assert!(!is_dns1123_label("Team-a"));
        assert!(!is_dns1123_label("-a"));
        assert!(!is_dns1123_label(&"a".repeat(64)));
        assert!(is_dns1123_subdomain("session.runner"));
        assert!(!is_dns1123_subdomain("a..b"));
    }

    #[test]
    fn durations_and_timestamps() {
        assert_eq!(duration("24h").unwrap(), SignedDuration::from_hours(24));
        assert_eq!(duration("1h30m").unwrap(), SignedDuration::from_mins(90));
        assert!(duration("soon").is_err());
        assert!(duration("-5m").is_err());
        assert!(timestamp("2027-01-31T18:00:00Z").is_ok());
        assert!(timestamp("2027-01-31").is_err());
    }

    #[test]
    fn capabilities() {
        assert_eq!(capability("cap_net_admin").unwrap(), "NET_ADMIN");
        assert_eq!(capability("ALL").unwrap(), "ALL");
        let (_, hint) = capability("NET_ADMN").unwrap_err();
        assert_eq!(hint.as_deref(), Some("did you mean `NET_ADMIN`?"));
    }
}
