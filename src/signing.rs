//! Which commits may configure access: Git's SSH commit signatures (`git commit -S` with `gpg.format=ssh`, the
//! SSHSIG format of OpenSSH's PROTOCOL.sshsig under the namespace `git`) verified against the signers that the last
//! applied revision's `Settings.spec.verify` allowed, so that a commit can never add its own signer. Pure: the
//! commit's bytes come from [`crate::git`], the policy from the cluster's record of what was applied.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The SSHSIG namespace Git signs and verifies commits under (`ssh-keygen -Y sign -n git`).
pub const GIT_NAMESPACE: &str = "git";

/// Who may sign the configuration: what a revision's `Settings.spec.verify` resolves to when it is applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignerPolicy {
    /// The keys that may sign, each with whom it belongs to.
    pub signers: Vec<AllowedSigner>,
    /// Whether unsigned commits are applied too (a signed one must still verify).
    pub allow_unsigned: bool,
}

/// One key that may sign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AllowedSigner {
    /// Whose key it is, as a reviewer reads it: `user alice` or `key forge-merges` (a key's comment).
    pub principal: String,
    /// The OpenSSH public key without its comment, e.g. `ssh-ed25519 AAAAC3...`.
    pub key: String,
    /// When the key stops being allowed (its user's `expires`); `None`: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Timestamp>,
}

impl SignerPolicy {
    /// The policy as Git's allowed signers file (`gpg.ssh.allowedSignersFile`, ssh-keygen(1) "ALLOWED SIGNERS"):
    /// one `principal key` line per key, with `valid-before` for keys that expire, so that `git log
    /// --show-signature` can check the same signatures by hand. Principals are written as one word of letters,
    /// digits and `.@_:-` (`user:alice`; a key comment's other characters become `-`), since the format splits on
    /// spaces and commas and reads `*` and `?` as patterns.
    pub fn allowed_signers(&self) -> String {
        let mut text = String::new();
        for signer in &self.signers {
            let principal: String = signer
                .principal
                .replacen(' ', ":", 1)
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || ".@_:-".contains(c) {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            match signer.until {
                Some(until) => text.push_str(&format!(
                    "{principal} namespaces=\"git\",valid-before=\"{}\" {}\n",
                    until.strftime("%Y%m%d%H%M%SZ"),
                    signer.key
                )),
                None => text.push_str(&format!("{principal} namespaces=\"git\" {}\n", signer.key)),
            }
        }
        text
    }
}

/// A commit's signature as Git stores it: the armored signature of its `gpgsig` header, and the commit's bytes
/// without that header (what was signed).
#[derive(Debug, Clone)]
pub struct CommitSignature {
    /// The signature as armored text, e.g. `-----BEGIN SSH SIGNATURE-----...`.
    pub armored: String,
    /// The signed bytes: the commit object without its `gpgsig` header.
    pub signed: Vec<u8>,
}

/// Why a commit may configure access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// No policy applies (the last applied revision set no `verify`).
    NotRequired,
    /// Signed by an allowed signer.
    Signed {
        /// Whose key signed, from the policy.
        principal: String,
        /// The key's SHA-256 fingerprint, as `ssh-keygen -l` prints it.
        fingerprint: String,
    },
    /// Not signed, and the policy allows unsigned commits.
    UnsignedAllowed,
}

/// Why a commit may not configure access. Each names the commit (full id) and says what would be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The commit has no signature and the policy requires one.
    #[error(
        "commit {commit} is not signed, and the signers the last applied revision allows ({signers}) must sign \
         every change of the configuration: sign it, or a commit on top of it (`git commit -S` with \
         `gpg.format=ssh`; for a merge, the merge commit), with one of their keys"
    )]
    Unsigned {
        /// The commit.
        commit: String,
        /// The allowed principals, comma-separated.
        signers: String,
    },
    /// Signed, but not with an SSH signature.
    #[error(
        "commit {commit} carries an {format} signature; tollgate verifies SSH signatures (`git config gpg.format ssh`)"
    )]
    NotSsh {
        /// The commit.
        commit: String,
        /// `OpenPGP`, `X.509` or `unknown`.
        format: &'static str,
    },
    /// The SSH signature does not parse.
    #[error("commit {commit} has an unreadable SSH signature: {reason}")]
    Malformed {
        /// The commit.
        commit: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Signed by a key no allowed signer holds (a commit cannot add its own signer).
    #[error(
        "commit {commit} is signed by key {fingerprint}, which the last applied revision does not allow to sign \
         (allowed: {signers}); a new signer is added by a commit an allowed signer signs (or, if none is left, by a \
         person with cluster access applying a reviewed checkout with `tollgate apply --repo`){unsigned}"
    )]
    UnknownKey {
        /// The commit.
        commit: String,
        /// The signing key's SHA-256 fingerprint.
        fingerprint: String,
        /// The allowed principals, comma-separated.
        signers: String,
        /// When unsigned commits are allowed, a note saying so (a signature that does not verify is still refused).
        unsigned: &'static str,
    },
    /// The signer's key is no longer allowed: its user expired.
    #[error(
        "commit {commit} is signed by {principal}, whose key may sign only until {until}; if no allowed signer is \
         left, a person with cluster access applies a reviewed checkout with `tollgate apply --repo`, which records \
         its signers"
    )]
    Expired {
        /// The commit.
        commit: String,
        /// Whose key signed.
        principal: String,
        /// When the key stopped being allowed.
        until: Timestamp,
    },
    /// The signature does not verify: the commit was changed after it was signed, or it was signed for another
    /// purpose (a namespace other than `git`).
    #[error("commit {commit}'s signature by {principal} ({fingerprint}) does not verify: {reason}")]
    Invalid {
        /// The commit.
        commit: String,
        /// Whose key it claims to be.
        principal: String,
        /// The key's SHA-256 fingerprint.
        fingerprint: String,
        /// Why, e.g. that the commit changed after signing.
        reason: String,
    },
}

/// Verifies `signature` of `commit` (full id) against `policy` at `now`. Without a policy anything goes; with one,
/// the signature must be SSHSIG under the namespace `git` by a key of an allowed signer that has not expired, over
/// exactly the commit's bytes (as `git verify-commit` with an allowed signers file checks it), or absent when
/// unsigned commits are allowed.
///
/// # Errors
/// [`VerifyError`]: what is wrong and what would be accepted.
pub fn verify(
    policy: Option<&SignerPolicy>,
    commit: &str,
    signature: Option<&CommitSignature>,
    now: Timestamp,
) -> Result<Verified, VerifyError> {
    let Some(policy) = policy else {
        return Ok(Verified::NotRequired);
    };
    let signers = || {
        let names: std::collections::BTreeSet<&str> = policy
            .signers
            .iter()
            .map(|s| s.principal.as_str())
            .collect();
        if names.is_empty() {
            "nobody".to_owned()
        } else {
            names.into_iter().collect::<Vec<_>>().join(", ")
        }
    };
    let Some(signature) = signature else {
        return if policy.allow_unsigned {
            Ok(Verified::UnsignedAllowed)
        } else {
            Err(VerifyError::Unsigned {
                commit: commit.to_owned(),
                signers: signers(),
            })
        };
    };
    let armored = signature.armored.trim_start();
    if !armored.starts_with("-----BEGIN SSH SIGNATURE-----") {
        let format = if armored.starts_with("-----BEGIN PGP") {
            "OpenPGP"
        } else if armored.starts_with("-----BEGIN SIGNED MESSAGE-----") {
            "X.509"
        } else {
            "unknown"
        };
        return Err(VerifyError::NotSsh {
            commit: commit.to_owned(),
            format,
        });
    }
    let sshsig = ssh_key::SshSig::from_pem(armored).map_err(|e| VerifyError::Malformed {
        commit: commit.to_owned(),
        reason: e.to_string(),
    })?;
    let fingerprint =
        ssh_key::PublicKey::from(sshsig.public_key().clone()).fingerprint(ssh_key::HashAlg::Sha256);
    // One key may be listed twice (a user's recipient and a hardware key under `keys`): one that has not expired
    // decides.
    let holders: Vec<(&AllowedSigner, ssh_key::PublicKey)> = policy
        .signers
        .iter()
        .filter_map(|signer| {
            let key = ssh_key::PublicKey::from_openssh(&signer.key).ok()?;
            (key.key_data() == sshsig.public_key()).then_some((signer, key))
        })
        .collect();
    let holder = holders
        .iter()
        .find(|(signer, _)| signer.until.is_none_or(|until| until > now))
        .or_else(|| holders.first())
        .cloned();
    let Some((signer, key)) = holder else {
        return Err(VerifyError::UnknownKey {
            commit: commit.to_owned(),
            fingerprint: fingerprint.to_string(),
            signers: signers(),
            unsigned: if policy.allow_unsigned {
                " (unsigned commits are allowed, but a signature must verify)"
            } else {
                ""
            },
        });
    };
    if let Some(until) = signer.until.filter(|until| *until <= now) {
        return Err(VerifyError::Expired {
            commit: commit.to_owned(),
            principal: signer.principal.clone(),
            until,
        });
    }
    let invalid = |reason: String| VerifyError::Invalid {
        commit: commit.to_owned(),
        principal: signer.principal.clone(),
        fingerprint: fingerprint.to_string(),
        reason,
    };
    if sshsig.namespace() != GIT_NAMESPACE {
        return Err(invalid(format!(
            "it was made for the namespace `{}`, not for Git commits (`git`)",
            sshsig.namespace()
        )));
    }
    key.verify(GIT_NAMESPACE, &signature.signed, &sshsig)
        .map_err(|e| {
            invalid(format!(
                "the commit is not what was signed (it was changed after signing): {e}"
            ))
        })?;
    Ok(Verified::Signed {
        principal: signer.principal.clone(),
        fingerprint: fingerprint.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(key: &ssh_key::PrivateKey, until: Option<Timestamp>) -> SignerPolicy {
        SignerPolicy {
            signers: vec![AllowedSigner {
                principal: "user alice".into(),
                key: key.public_key().to_openssh().expect("encodes"),
                until,
            }],
            allow_unsigned: false,
        }
    }

    fn signed(key: &ssh_key::PrivateKey, namespace: &str, data: &[u8]) -> CommitSignature {
        let sig = key
            .sign(namespace, ssh_key::HashAlg::Sha512, data)
            .expect("signs");
        CommitSignature {
            armored: sig.to_pem(ssh_key::LineEnding::LF).expect("armors"),
            signed: data.to_vec(),
        }
    }

    fn key() -> ssh_key::PrivateKey {
        ssh_key::PrivateKey::random(&mut rand_core::OsRng, ssh_key::Algorithm::Ed25519)
            .expect("a key")
    }

    #[test]
    fn only_an_allowed_key_over_the_exact_bytes_under_git_verifies() {
        let alice = key();
        let mallory = key();
        let now = Timestamp::now();
        let policy = policy(&alice, None);
        let data = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\nchange\n";
        assert!(matches!(
            verify(Some(&policy), "c1", Some(&signed(&alice, "git", data)), now),
            Ok(Verified::Signed { principal, .. }) if principal == "user alice"
        ));
        assert!(matches!(
            verify(
                Some(&policy),
                "c1",
                Some(&signed(&mallory, "git", data)),
                now
            ),
            Err(VerifyError::UnknownKey { .. })
        ));
        let mut changed = signed(&alice, "git", data);
        changed.signed.push(b'!');
        assert!(matches!(
            verify(Some(&policy), "c1", Some(&changed), now),
            Err(VerifyError::Invalid { .. })
        ));
        assert!(matches!(
            verify(
                Some(&policy),
                "c1",
                Some(&signed(&alice, "file", data)),
                now
            ),
            Err(VerifyError::Invalid { .. })
        ));
        assert!(matches!(
            verify(Some(&policy), "c1", None, now),
            Err(VerifyError::Unsigned { .. })
        ));
        let lenient = SignerPolicy {
            allow_unsigned: true,
            ..policy.clone()
        };
        assert_eq!(
            verify(Some(&lenient), "c1", None, now),
            Ok(Verified::UnsignedAllowed)
        );
        // A signed commit must still verify when unsigned ones are allowed.
        assert!(
            verify(
                Some(&lenient),
                "c1",
                Some(&signed(&mallory, "git", data)),
                now
            )
            .is_err()
        );
        assert_eq!(verify(None, "c1", None, now), Ok(Verified::NotRequired));
        let pgp = CommitSignature {
            armored: "-----BEGIN PGP SIGNATURE-----\n...\n".into(),
            signed: data.to_vec(),
        };
        assert!(matches!(
            verify(Some(&policy), "c1", Some(&pgp), now),
            Err(VerifyError::NotSsh {
                format: "OpenPGP",
                ..
            })
        ));
        let expired = self::policy(&alice, Some(now - jiff::SignedDuration::from_secs(1)));
        assert!(matches!(
            verify(
                Some(&expired),
                "c1",
                Some(&signed(&alice, "git", data)),
                now
            ),
            Err(VerifyError::Expired { .. })
        ));
    }

    #[test]
    fn the_allowed_signers_file_is_gits_format() {
        let alice = key();
        let until = "2027-01-31T00:00:00Z".parse().expect("a time");
        let text = policy(&alice, Some(until)).allowed_signers();
        let openssh = alice.public_key().to_openssh().expect("encodes");
        assert_eq!(
            text,
            format!("user:alice namespaces=\"git\",valid-before=\"20270131000000Z\" {openssh}\n")
        );
    }
}
