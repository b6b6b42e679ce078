//! age encryption of client files, ASCII-armored, to every recipient of a client (age X25519 and SSH keys), and
//! decryption with an identity file, as `age -e -a -r ...` and `age -d -i ...` do: the stock `age` CLI reads what
//! this writes, and the other way round.

use std::io::{Read, Write};
use std::str::FromStr;

use age::armor::{ArmoredReader, ArmoredWriter, Format};

use crate::validate::model::{Recipient, RecipientKind};

/// Why [`seal`] could not encrypt a client file.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The recipient list is empty: age needs at least one.
    #[error("a client file needs at least one recipient")]
    NoRecipients,
    /// The age crate does not accept a recipient key as an X25519 or SSH recipient.
    #[error("`{key}` is not a usable recipient: {reason}")]
    Recipient {
        /// The public key as written in the repository.
        key: String,
        /// The age crate's complaint.
        reason: String,
    },
    /// age failed while encrypting or armoring; the text is its error.
    #[error("cannot encrypt: {0}")]
    Encrypt(String),
}

/// Why a client file could not be decrypted: a bad identity file ([`read_identities`]) or a failed [`open`].
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The identity file holds no usable identity: not age or SSH, an unsupported SSH key, a public key instead of
    /// a private one, or empty; or its passphrase is wrong or could not be asked for.
    #[error("cannot use the identity file {path}: {reason}")]
    Identity {
        /// The identity file's path, for the message.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The identity file is protected by a passphrase and nobody could be asked for it (no terminal).
    #[error(
        "cannot use the identity file {path}: it is protected by a passphrase and there is no terminal to ask for it \
         on. Run the command in a terminal (kubectl gives `tollgate client get-token` its terminal when it has one), \
         or use an identity without a passphrase: `age-keygen -o ~/.config/tollgate/key.txt`, then add the public \
         key it prints to your User's `recipients`"
    )]
    Passphrase {
        /// The identity file's path, for the message.
        path: String,
    },
    /// The file is an age file, but damaged or cut short (e.g. a partial download or a merge conflict).
    #[error(
        "{path} is a damaged or truncated age file ({reason}); fetch it again (`git pull`, `git checkout -- {path}`)"
    )]
    Damaged {
        /// The encrypted file's path, for the message.
        path: String,
        /// The age crate's error.
        reason: String,
    },
    /// None of the identities is a recipient of the file.
    #[error(
        "none of the identities given can decrypt {path}: tried {}; the file is encrypted to {}",
        tried.join(", "),
        recipients.join(", ")
    )]
    NotARecipient {
        /// The encrypted file's path, for the message.
        path: String,
        /// Each identity tried, by its public key (X25519) or key fingerprint (SSH).
        tried: Vec<String>,
        /// What the file's header says of its recipients (SSH keys by tag; X25519 keys cannot be named), or
        /// what the repository says of them when the caller knows.
        recipients: Vec<String>,
    },
}

/// An identity to decrypt with, and what it is, in terms a person can compare with a public key they know.
pub struct Identity {
    identity: Box<dyn age::Identity>,
    /// What the identity is: its recipient (`age1...`), or its SSH public key.
    pub public: PublicKey,
}

/// The public half of an identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// An age X25519 recipient, `age1...`.
    X25519(String),
    /// A key whose public half cannot be named, described.
    Unnamed(String),
    /// An SSH public key.
    Ssh {
        /// `ssh-ed25519 AAAA...` or `ssh-rsa AAAA...`, without a comment.
        openssh: String,
        /// As `ssh-keygen -l` prints it: `SHA256:...`.
        fingerprint: String,
        /// The 4-byte tag age puts in an SSH stanza (`-> ssh-ed25519 TAG ...`), base64 without padding.
        tag: String,
    },
}

impl std::fmt::Display for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PublicKey::X25519(recipient) => write!(f, "{recipient}"),
            PublicKey::Unnamed(description) => write!(f, "{description}"),
            PublicKey::Ssh {
                openssh,
                fingerprint,
                ..
            } => {
                let kind = openssh.split(' ').next().unwrap_or("ssh");
                write!(f, "the {kind} key {fingerprint}")
            }
        }
    }
}

/// The SSH key behind `openssh` (`ssh-ed25519 AAAA... [comment]`), with its fingerprint and age tag; `None` when
/// it does not parse.
pub fn ssh_public_key(openssh: &str) -> Option<PublicKey> {
    let key = ssh_key::PublicKey::from_openssh(openssh.trim()).ok()?;
    Some(describe_ssh(&key))
}

fn describe_ssh(key: &ssh_key::PublicKey) -> PublicKey {
    use base64::Engine as _;
    // The fingerprint is the SHA-256 of the key's wire encoding; age's tag is its first 4 bytes.
    let fingerprint = key.fingerprint(ssh_key::HashAlg::Sha256);
    let digest = fingerprint.as_bytes();
    let tag =
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(&digest[..4.min(digest.len())]);
    PublicKey::Ssh {
        openssh: key
            .to_openssh()
            .unwrap_or_default()
            .split(' ')
            .take(2)
            .collect::<Vec<_>>()
            .join(" "),
        fingerprint: fingerprint.to_string(),
        tag,
    }
}

/// One recipient stanza of an age file's header, as far as it can be known without a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stanza {
    /// An X25519 recipient: the header does not say which.
    X25519,
    /// An SSH recipient, by the tag of its public key.
    Ssh {
        /// `ssh-ed25519` or `ssh-rsa`.
        kind: String,
        /// The tag, base64 as in the header.
        tag: String,
    },
    /// Another kind of stanza (e.g. scrypt, a plugin).
    Other(String),
}

/// Where an age file starts in `bytes`: after white space and a UTF-8 byte-order mark, which editors and shells
/// on Windows add and age does not skip (FiloSottile/age#384). `None` when no age header follows.
pub fn age_start(bytes: &[u8]) -> Option<usize> {
    let mut start = 0;
    loop {
        let rest = &bytes[start..];
        if rest.starts_with(b"\xEF\xBB\xBF") {
            start += 3;
        } else if rest.first().is_some_and(u8::is_ascii_whitespace) {
            start += 1;
        } else {
            break;
        }
    }
    let rest = &bytes[start..];
    (rest.starts_with(ARMOR_BEGIN.as_bytes()) || rest.starts_with(b"age-encryption.org/"))
        .then_some(start)
}

const ARMOR_BEGIN: &str = "-----BEGIN AGE ENCRYPTED FILE-----";
const ARMOR_END: &str = "-----END AGE ENCRYPTED FILE-----";

/// The recipient stanzas of an age file's header (armored or binary); empty when the header cannot be read.
pub fn stanzas(ciphertext: &[u8]) -> Vec<Stanza> {
    use base64::Engine as _;
    let binary = if ciphertext.starts_with(ARMOR_BEGIN.as_bytes()) {
        let text = String::from_utf8_lossy(ciphertext);
        let body: String = text
            .lines()
            .skip(1)
            .take_while(|line| !line.starts_with(ARMOR_END))
            .map(str::trim)
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap_or_default()
    } else {
        ciphertext.to_vec()
    };
    let header = String::from_utf8_lossy(&binary);
    header
        .lines()
        .take_while(|line| !line.starts_with("---"))
        .filter_map(|line| line.strip_prefix("-> "))
        .map(|stanza| {
            let mut parts = stanza.split(' ');
            match (parts.next(), parts.next()) {
                (Some("X25519"), _) => Stanza::X25519,
                (Some(kind @ ("ssh-ed25519" | "ssh-rsa")), Some(tag)) => Stanza::Ssh {
                    kind: kind.to_owned(),
                    tag: tag.to_owned(),
                },
                (other, _) => Stanza::Other(other.unwrap_or_default().to_owned()),
            }
        })
        .collect()
}

/// Encrypts `plaintext` so that any one of `recipients` can read it. Output is random (a fresh file key), so
/// callers that must not churn compare plaintexts, never ciphertexts.
pub fn seal(plaintext: &[u8], recipients: &[Recipient]) -> Result<String, SealError> {
    if recipients.is_empty() {
        return Err(SealError::NoRecipients);
    }
    let mut parsed: Vec<Box<dyn age::Recipient + Send>> = Vec::with_capacity(recipients.len());
    for recipient in recipients {
        let invalid = |reason: String| SealError::Recipient {
            key: recipient.key.clone(),
            reason,
        };
        match recipient.kind {
            RecipientKind::X25519 => parsed.push(Box::new(
                age::x25519::Recipient::from_str(&recipient.key)
                    .map_err(|e| invalid(e.to_string()))?,
            )),
            RecipientKind::SshEd25519 | RecipientKind::SshRsa => parsed.push(Box::new(
                age::ssh::Recipient::from_str(&recipient.key)
                    .map_err(|e| invalid(format!("{e:?}")))?,
            )),
        }
    }
    let encryptor =
        age::Encryptor::with_recipients(parsed.iter().map(|r| r.as_ref() as &dyn age::Recipient))
            .map_err(|e| SealError::Encrypt(e.to_string()))?;
    let mut out = Vec::new();
    let armored = ArmoredWriter::wrap_output(&mut out, Format::AsciiArmor)
        .map_err(|e| SealError::Encrypt(e.to_string()))?;
    let mut writer = encryptor
        .wrap_output(armored)
        .map_err(|e| SealError::Encrypt(e.to_string()))?;
    writer
        .write_all(plaintext)
        .map_err(|e| SealError::Encrypt(e.to_string()))?;
    writer
        .finish()
        .and_then(age::armor::ArmoredWriter::finish)
        .map_err(|e| SealError::Encrypt(e.to_string()))?;
    Ok(String::from_utf8(out).expect("ASCII armor is ASCII"))
}

/// Whether `bytes` look like an age file (armored or binary, possibly after white space or a byte-order mark)
/// rather than plaintext.
pub fn is_age(bytes: &[u8]) -> bool {
    age_start(bytes).is_some()
}

/// Asks a person for the passphrase of a protected identity file (named by the argument); `None` when nobody can
/// be asked (no terminal). The binary's edge asks on the terminal; the core never does.
pub type AskPassphrase<'a> = &'a dyn Fn(&str) -> Option<age::secrecy::SecretString>;

/// The largest scrypt work factor accepted for an `age -p` identity file, as the age CLI allows: `age -p` picks one
/// that takes about a second on the machine that encrypted (18 on a typical laptop), and a slower machine must
/// still open it.
const MAX_SCRYPT_WORK_FACTOR: u8 = 22;

/// The identities in an identity file: age X25519 keys (`AGE-SECRET-KEY-1...`, as `age-keygen` writes), such a
/// file encrypted with a passphrase (`age -p`, as `age -d -i` reads it), or an OpenSSH private key (ed25519 or
/// RSA, with or without a passphrase). A passphrase is asked for with `ask`. A public key given by mistake is named
/// as such.
///
/// Errors: [`OpenError::Identity`] naming the file and what it holds instead, or that the passphrase is wrong or
/// could not be asked for.
pub fn read_identities(
    path: &str,
    bytes: &[u8],
    ask: AskPassphrase<'_>,
) -> Result<Vec<Identity>, OpenError> {
    let invalid = |reason: String| OpenError::Identity {
        path: path.to_owned(),
        reason,
    };
    if let Some(start) = age_start(bytes) {
        // An identity file encrypted with a passphrase, as `age -p` writes one.
        let reader = age::armor::ArmoredReader::new(&bytes[start..]);
        let decryptor = age::Decryptor::new_buffered(reader)
            .map_err(|e| invalid(format!("it is a damaged age file ({e})")))?;
        if !decryptor.is_scrypt() {
            return Err(invalid(
                "it is an age file encrypted to keys, not an identity file; -i needs your age key file or SSH \
                 private key"
                    .into(),
            ));
        }
        let passphrase = ask(path).ok_or_else(|| OpenError::Passphrase {
            path: path.to_owned(),
        })?;
        let mut identity = age::scrypt::Identity::new(passphrase);
        identity.set_max_work_factor(MAX_SCRYPT_WORK_FACTOR);
        let mut plaintext = Vec::new();
        decryptor
            .decrypt(std::iter::once(&identity as &dyn age::Identity))
            .and_then(|mut reader| {
                std::io::Read::read_to_end(&mut reader, &mut plaintext).map_err(Into::into)
            })
            .map_err(|error| {
                invalid(match error {
                    age::DecryptError::ExcessiveWork { required, .. } => format!(
                        "its passphrase encryption asks for more work (scrypt work factor {required}) than tollgate \
                         allows ({MAX_SCRYPT_WORK_FACTOR})"
                    ),
                    _ => "the passphrase is wrong".to_owned(),
                })
            })?;
        let no_more: AskPassphrase<'_> = &|_| None;
        return read_identities(path, &plaintext, no_more);
    }
    let text = String::from_utf8_lossy(bytes);
    let first = text.trim_start();
    if first.starts_with("age1")
        || first.starts_with("ssh-ed25519 ")
        || first.starts_with("ssh-rsa ")
    {
        return Err(invalid(
            "it holds a PUBLIC key; -i needs the private key that goes with it (your age key file, e.g. \
             ~/.config/age/key.txt, or ~/.ssh/id_ed25519 rather than ~/.ssh/id_ed25519.pub)"
                .into(),
        ));
    }
    if text.contains("PRIVATE KEY-----") {
        let identity = age::ssh::Identity::from_buffer(bytes, Some(path.to_owned())).map_err(|_| {
            invalid(
                "not an SSH private key age reads (an unencrypted ssh-ed25519 or ssh-rsa key, as ssh-keygen \
                 writes it)"
                    .into(),
            )
        })?;
        // The public half, to name the key in messages; a PEM RSA key (`BEGIN RSA PRIVATE KEY`) has none to hand.
        let public = ssh_key::PrivateKey::from_openssh(text.trim()).map_or_else(
            |_| PublicKey::Unnamed("an SSH RSA key in PEM form".to_owned()),
            |key| describe_ssh(key.public_key()),
        );
        return match identity {
            age::ssh::Identity::Unencrypted(_) => Ok(vec![Identity {
                identity: Box::new(identity),
                public,
            }]),
            age::ssh::Identity::Encrypted(key) => {
                let passphrase = ask(path).ok_or_else(|| OpenError::Passphrase {
                    path: path.to_owned(),
                })?;
                let key = key
                    .decrypt(passphrase)
                    .map_err(|_| invalid("the passphrase is wrong".into()))?;
                Ok(vec![Identity {
                    identity: Box::new(age::ssh::Identity::Unencrypted(key)),
                    public,
                }])
            }
            age::ssh::Identity::Unsupported(_) => {
                let kind = match &public {
                    PublicKey::Ssh { openssh, .. } => {
                        openssh.split(' ').next().unwrap_or("its").to_owned()
                    }
                    _ => "its".to_owned(),
                };
                Err(invalid(format!(
                    "{kind} keys cannot decrypt age files; age reads ssh-ed25519 and ssh-rsa keys"
                )))
            }
        };
    }
    let expected = "expected `AGE-SECRET-KEY-1...` lines (as age-keygen writes them) or an OpenSSH private key";
    let file = age::IdentityFile::from_buffer(bytes).map_err(|_| {
        invalid(if std::str::from_utf8(bytes).is_err() {
            format!("it is not text; {expected}")
        } else {
            format!("it holds something else; {expected}")
        })
    })?;
    let mut identities = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with("AGE-SECRET-KEY-") {
            let identity =
                age::x25519::Identity::from_str(line).map_err(|e| invalid(e.to_string()))?;
            identities.push(Identity {
                public: PublicKey::X25519(identity.to_public().to_string()),
                identity: Box::new(identity),
            });
        }
    }
    if identities.is_empty() {
        // Not an X25519 identity file; let age say what it is (plugins are not supported here).
        let parsed = file.into_identities().map_err(|e| invalid(e.to_string()))?;
        if parsed.is_empty() {
            return Err(invalid(
                "no identities in the file (expected `AGE-SECRET-KEY-1...` lines or an OpenSSH private key)".into(),
            ));
        }
        return Err(invalid(
            "only age X25519 identities and SSH keys are supported".into(),
        ));
    }
    Ok(identities)
}

/// Decrypts an age file with any of `identities`. Leading white space or a byte-order mark before the header is
/// skipped. Errors: [`OpenError::Damaged`] for a broken file, [`OpenError::NotARecipient`] naming every identity
/// tried and what the header says of the recipients.
pub fn open(path: &str, ciphertext: &[u8], identities: &[Identity]) -> Result<Vec<u8>, OpenError> {
    let ciphertext = &ciphertext[age_start(ciphertext).unwrap_or(0)..];
    let damaged = |reason: String| OpenError::Damaged {
        path: path.to_owned(),
        reason,
    };
    if ciphertext.starts_with(ARMOR_BEGIN.as_bytes())
        && !String::from_utf8_lossy(ciphertext).contains(ARMOR_END)
    {
        return Err(damaged("the armor has no end line".into()));
    }
    // age's own messages can run over lines (hints to upgrade); the first says what is wrong.
    let first_line = |e: &dyn std::fmt::Display| {
        e.to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .trim_end_matches('.')
            .to_owned()
    };
    let decryptor =
        age::Decryptor::new(ArmoredReader::new(ciphertext)).map_err(|e| damaged(first_line(&e)))?;
    let mut reader = match decryptor.decrypt(identities.iter().map(|i| i.identity.as_ref())) {
        Ok(reader) => reader,
        Err(age::DecryptError::NoMatchingKeys) => {
            return Err(OpenError::NotARecipient {
                path: path.to_owned(),
                tried: identities.iter().map(|i| i.public.to_string()).collect(),
                recipients: describe_stanzas(&stanzas(ciphertext)),
            });
        }
        Err(error) => return Err(damaged(first_line(&error))),
    };
    let mut plaintext = Vec::new();
    reader
        .read_to_end(&mut plaintext)
        .map_err(|e| damaged(e.to_string()))?;
    Ok(plaintext)
}

/// The recipients an age header shows: SSH keys by their tag, X25519 keys only counted.
pub fn describe_stanzas(stanzas: &[Stanza]) -> Vec<String> {
    let x25519 = stanzas.iter().filter(|s| **s == Stanza::X25519).count();
    let mut described: Vec<String> = stanzas
        .iter()
        .filter_map(|stanza| match stanza {
            Stanza::Ssh { kind, tag } => Some(format!("an {kind} key with age tag {tag}")),
            // age adds a random "grease" stanza to every file so that parsers tolerate unknown ones.
            Stanza::Other(kind) if kind.ends_with("-grease") => None,
            Stanza::Other(kind) => Some(format!("a `{kind}` recipient")),
            Stanza::X25519 => None,
        })
        .collect();
    if x25519 > 0 {
        described.push(format!(
            "{x25519} age X25519 key(s) (an age header does not name them)"
        ));
    }
    described
}
