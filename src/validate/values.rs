//! Parsers for the string values of the repository format: names, durations, timestamps, keys, networks and
//! capabilities. Each returns a message fit for a diagnostic.

use std::str::FromStr;

use jiff::{SignedDuration, Timestamp};

use super::model::{Recipient, RecipientKind};

const DNS_LABEL_RULE: &str = "lower-case letters, digits and `-`, starting and ending with a letter or digit, at most 63 characters";

/// The verbs Kubernetes' authorizers and API server ask about (`rbac.authorization.k8s.io` docs, "Referring to
/// resources" and "Privilege escalation prevention"): the request verbs, and the special verbs of RBAC,
/// PodSecurityPolicy, impersonation and CertificateSigningRequests. RBAC compares verbs as plain strings, so any
/// other word grants nothing.
pub const VERBS: [&str; 16] = [
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "use",
    "bind",
    "escalate",
    "impersonate",
    "approve",
    "sign",
    "attest",
    "*",
];

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

/// Checks a label value, as Kubernetes' `IsValidLabelValue`: at most 63 characters, alphanumerics, `-`, `_` and
/// `.`, starting and ending with an alphanumeric (empty is valid there but means nothing here, so it is refused).
pub fn label_value(value: &str) -> Result<(), String> {
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if value.len() <= 63
        && edge_ok(value.chars().next())
        && edge_ok(value.chars().last())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        Ok(())
    } else {
        Err(format!(
            "`{value}` is not a Kubernetes label value: 1 to 63 letters, digits, `-`, `_` or `.`, starting and \
             ending with a letter or digit"
        ))
    }
}

/// A positive duration such as `24h`, `90m`, `1h30m` or `7d` (a day is 24 hours), as jiff reads spans.
pub fn duration(text: &str) -> Result<SignedDuration, String> {
    let format = "write it like `24h`, `90m`, `1h30m` or `7d`";
    let span =
        jiff::Span::from_str(text).map_err(|_| format!("`{text}` is not a duration: {format}"))?;
    if span.get_years() != 0 || span.get_months() != 0 || span.get_weeks() != 0 {
        return Err(format!(
            "`{text}` uses weeks, months or years, whose length varies: {format}"
        ));
    }
    let duration = span
        .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
        .map_err(|_| format!("`{text}` is not a duration: {format}"))?;
    if duration.subsec_nanos() != 0 {
        return Err(format!(
            "`{text}` is not a whole number of seconds: Kubernetes counts these in seconds ({format})"
        ));
    }
    if duration.is_positive() {
        Ok(duration)
    } else {
        Err(format!("duration `{text}` must be positive"))
    }
}

/// An RFC 3339 timestamp with a UTC offset, e.g. `2027-01-31T18:00:00Z`.
pub fn timestamp(text: &str) -> Result<Timestamp, String> {
    Timestamp::from_str(text).map_err(|_| {
        format!("`{text}` is not an RFC 3339 timestamp: write it like `2027-01-31T18:00:00Z`")
    })
}

/// Whether `text` holds a private key (an age identity, an OpenSSH, PEM or PuTTY private key) rather than a public
/// one. Such a text must never be shown again: see [`recipient`].
pub fn is_private_key(text: &str) -> bool {
    // Every string of every document is asked: no allocation, and short strings are answered by their length.
    let contains = |needle: &str| {
        text.len() >= needle.len()
            && text
                .as_bytes()
                .windows(needle.len())
                .any(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
    };
    contains("PRIVATE KEY") || contains("AGE-SECRET-KEY-") || contains("PUTTY-USER-KEY-FILE")
}

/// The message for a private key found where a public key belongs. It names no part of the key.
pub const PRIVATE_KEY_MESSAGE: &str = "this is a PRIVATE key, not a public one: it is now in the repository's \
     history and must be treated as leaked. Make a new key pair, list only its public key here (`age-keygen -y \
     KEY` or `ssh-keygen -y -f KEY` prints it), and remove the old key from the history";

/// An age X25519 recipient (`age1...`) or an SSH public key (`ssh-ed25519 ...`, `ssh-rsa ...`), checked with the
/// age crate itself so that whatever validates here can be encrypted to later. A private key pasted by mistake is
/// refused with [`PRIVATE_KEY_MESSAGE`], which echoes nothing of it.
pub fn recipient(text: &str) -> Result<Recipient, String> {
    let text = text.trim();
    if is_private_key(text) {
        return Err(PRIVATE_KEY_MESSAGE.to_owned());
    }
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
        Err(_) => Err(format!(
            "`{}` is not a valid SSH public key: the base64 part does not decode to a key of its type (copy the \
             whole line of the `.pub` file)",
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

/// The largest `tokenLifetime` the TokenRequest API accepts: `expirationSeconds` is at most 2^32 seconds
/// (`ValidateTokenRequest` in Kubernetes' `pkg/apis/authentication/validation`).
pub const MAX_TOKEN_LIFETIME_SECS: i64 = 1 << 32;
/// The shortest `tokenLifetime` the TokenRequest API accepts: 10 minutes.
pub const MIN_TOKEN_LIFETIME_SECS: i64 = 600;

/// A Kubernetes API server URL for client files: `https://host[:port][/path]`. Plain `http` is refused: the
/// client file's token would travel in clear text.
pub fn api_server(text: &str) -> Result<(), String> {
    // URL parsing drops tabs and line breaks; kubectl refuses them. Say so without echoing them.
    if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("the URL holds white space or control characters".to_owned());
    }
    let parsed = url::Url::parse(text).map_err(|e| {
        format!("`{text}` is not a URL ({e}): write it like `https://k8s.example.com:6443`")
    })?;
    if parsed.scheme() != "https" {
        return Err(format!(
            "`{text}` is not an https URL: kubectl would send the client's token in clear text"
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{text}` names no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() || !parsed.username().is_empty() {
        return Err(format!(
            "`{text}` carries a query, a fragment or credentials; an API server URL is `https://host[:port][/path]`"
        ));
    }
    Ok(())
}

/// A WireGuard endpoint as `wg` and wg-quick parse `Endpoint =`: `host:port` or `[IPv6]:port`, port 1..=65535,
/// no URL scheme, no path.
pub fn wireguard_endpoint(text: &str) -> Result<(), String> {
    let expected = "write it as `host:port` or `[IPv6]:port`, e.g. `vpn.example.com:51820`";
    if text.contains("://") || text.contains('/') {
        return Err(format!(
            "`{text}` is a URL; a WireGuard endpoint is not: {expected}"
        ));
    }
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (address, port) = rest
            .split_once("]:")
            .ok_or_else(|| format!("`{text}` is not an endpoint: {expected}"))?;
        address
            .parse::<std::net::Ipv6Addr>()
            .map_err(|_| format!("`[{address}]` is not an IPv6 address"))?;
        (address, port)
    } else {
        let (host, port) = text
            .rsplit_once(':')
            .ok_or_else(|| format!("`{text}` has no port: {expected}"))?;
        if host.contains(':') {
            return Err(format!(
                "`{text}`: an IPv6 address needs brackets: `[{host}]:{port}`"
            ));
        }
        (host, port)
    };
    if host.is_empty() || host.chars().any(char::is_whitespace) {
        return Err(format!("`{text}` names no host: {expected}"));
    }
    match port.parse::<u16>() {
        Ok(port) if port > 0 => Ok(()),
        _ => Err(format!("`{port}` is not a port: ports are 1 to 65535")),
    }
}

/// A container image reference as the kubelet accepts it (docker's reference grammar, `ParseNormalizedNamed`):
/// `[host[:port]/]path[:tag][@algorithm:hex]`, path components lower-case `[a-z0-9]` joined by `.`, `_`, `__` or
/// `-`; a tag of at most 128 `[A-Za-z0-9_.-]` not starting with `.` or `-`. Anything else ends as
/// `InvalidImageName` on the node.
pub fn image_reference(text: &str) -> Result<(), String> {
    let bad = |why: &str| {
        Err(format!(
            "`{text}` is not an image reference the kubelet accepts ({why}): write it like `ghcr.io/org/tools:1.2` \
             or `alpine@sha256:<64 hex digits>`"
        ))
    };
    if text.is_empty() {
        return bad("it is empty");
    }
    if text.len() > 4096 || text.chars().any(char::is_whitespace) {
        return bad("it contains white space or is too long");
    }
    let (name, digest) = match text.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (text, None),
    };
    if let Some(digest) = digest {
        let Some((algorithm, hex)) = digest.split_once(':') else {
            return bad("the digest needs `algorithm:hex`");
        };
        let hex_ok = hex.len() >= 32
            && hex
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        if algorithm.is_empty()
            || !algorithm
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b))
            || !hex_ok
        {
            return bad("the digest is not `algorithm:lower-case hex`");
        }
    }
    // A tag follows the last `:` after the last `/` (a `:` before it is a registry port).
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (path, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
        None => (name, None),
    };
    if let Some(tag) = tag {
        let tag_ok = !tag.is_empty()
            && tag.len() <= 128
            && tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
            && !tag.starts_with(['.', '-']);
        if !tag_ok {
            return bad(
                "the tag must be 1 to 128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`",
            );
        }
    }
    let mut components: Vec<&str> = path.split('/').collect();
    // The first component is a registry when it has a `.` or a `:`, or is `localhost`.
    if components.len() > 1 {
        let first = components[0];
        if first.contains(['.', ':']) || first == "localhost" {
            let (host, port) = first.split_once(':').unwrap_or((first, ""));
            let host_ok = !host.is_empty()
                && host.split('.').all(|l| {
                    !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                });
            if !host_ok || (!port.is_empty() && port.parse::<u16>().is_err()) {
                return bad("the registry is not `host[:port]`");
            }
            components.remove(0);
        }
    }
    let component_ok = |c: &str| {
        !c.is_empty()
            && c.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
            && c.starts_with(|ch: char| ch.is_ascii_alphanumeric())
            && c.ends_with(|ch: char| ch.is_ascii_alphanumeric())
            && !c.contains("..")
            && !c.contains("___")
    };
    if components.is_empty() || !components.iter().all(|c| component_ok(c)) {
        return bad(
            "repository names are lower-case letters, digits and single separators (`.`, `_`, `-`)",
        );
    }
    Ok(())
}

/// A DNS search domain as the API server checks `dnsConfig.searches` (`validatePodDNSConfig`): a DNS-1123
/// subdomain, with an optional trailing dot.
pub fn search_domain(text: &str) -> Result<(), String> {
    let name = text.strip_suffix('.').unwrap_or(text);
    if is_dns1123_subdomain(name) && !name.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "`{text}` is not a DNS search domain: lower-case labels of letters, digits and `-`, joined by dots"
        ))
    }
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
        assert_eq!(duration("7d").unwrap(), SignedDuration::from_hours(168));
        assert!(duration("1mo").is_err());
    }

    #[test]
    fn a_private_key_is_refused_without_being_echoed() {
        for secret in [
            "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----",
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
        ] {
            let message = recipient(secret).unwrap_err();
            assert_eq!(message, PRIVATE_KEY_MESSAGE);
            assert!(
                !message.contains("QQQQ") && !message.contains("b3Bl") && !message.contains("MIIE")
            );
        }
    }

    #[test]
    fn values_as_their_consumers_parse_them() {
        assert!(api_server("https://k8s.example.com:6443").is_ok());
        assert!(api_server("https://10.0.0.1").is_ok());
        assert!(
            api_server("http://k8s.example.com")
                .unwrap_err()
                .contains("clear text")
        );
        assert!(api_server("k8s.example.com:6443").is_err());
        assert!(wireguard_endpoint("vpn.example.com:51820").is_ok());
        assert!(wireguard_endpoint("[fd00::1]:51820").is_ok());
        assert!(wireguard_endpoint("udp://vpn.example.com:51820").is_err());
        assert!(wireguard_endpoint("fd00::1:51820").is_err());
        assert!(wireguard_endpoint("vpn.example.com:70000").is_err());
        assert!(wireguard_endpoint("vpn.example.com:0").is_err());
        for good in [
            "alpine",
            "alpine:3.20",
            "ghcr.io/org/tools:1.2",
            "localhost:5000/a/b",
            "registry.example.com:443/team/debug_tools-x:v1.0_rc",
            "alpine@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert!(image_reference(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Alpine",
            "alpine:",
            "alpine:-x",
            "a b",
            "org//x",
            "alpine@sha256:XYZ",
            "-a",
        ] {
            assert!(image_reference(bad).is_err(), "{bad}");
        }
        assert!(search_domain("svc.cluster.local").is_ok());
        assert!(search_domain("example.com.").is_ok());
        assert!(search_domain("Bad_Domain").is_err());
    }

    #[test]
    fn capabilities() {
        assert_eq!(capability("cap_net_admin").unwrap(), "NET_ADMIN");
        assert_eq!(capability("ALL").unwrap(), "ALL");
        let (_, hint) = capability("NET_ADMN").unwrap_err();
        assert_eq!(hint.as_deref(), Some("did you mean `NET_ADMIN`?"));
    }
}
