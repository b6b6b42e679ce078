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
    /// The identity file holds no usable identity: not age or SSH, a passphrase-protected or unsupported SSH key,
    /// or empty.
    #[error("cannot read the identity file {path}: {reason}")]
    Identity {
        /// The identity file's path, for the message.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The file is not age, none of the identities is one of its recipients, or it is damaged.
    #[error("cannot decrypt {path}: {reason}")]
    Decrypt {
        /// The encrypted file's path, for the message.
        path: String,
        /// The age crate's error.
        reason: String,
    },
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

/// Whether `bytes` look like an age file (armored or binary) rather than plaintext.
pub fn is_age(bytes: &[u8]) -> bool {
    bytes.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----")
        || bytes.starts_with(b"age-encryption.org/")
}

/// The identities in an identity file: age X25519 keys (`AGE-SECRET-KEY-1...`, as `age-keygen` writes) or an
/// unencrypted SSH private key (ed25519 or RSA).
pub fn read_identities(path: &str, bytes: &[u8]) -> Result<Vec<Box<dyn age::Identity>>, OpenError> {
    let invalid = |reason: String| OpenError::Identity {
        path: path.to_owned(),
        reason,
    };
    let text = String::from_utf8_lossy(bytes);
    if text.contains("PRIVATE KEY-----") {
        let identity = age::ssh::Identity::from_buffer(bytes, Some(path.to_owned()))
            .map_err(|e| invalid(e.to_string()))?;
        return match identity {
            age::ssh::Identity::Unencrypted(_) => Ok(vec![Box::new(identity)]),
            age::ssh::Identity::Encrypted(_) => Err(invalid(
                "passphrase-protected SSH keys are not supported; use `age -d` for those".into(),
            )),
            age::ssh::Identity::Unsupported(key) => {
                Err(invalid(format!("unsupported SSH key: {key:?}")))
            }
        };
    }
    let file = age::IdentityFile::from_buffer(bytes).map_err(|e| invalid(e.to_string()))?;
    let identities = file.into_identities().map_err(|e| invalid(e.to_string()))?;
    if identities.is_empty() {
        return Err(invalid("no identities in the file".into()));
    }
    Ok(identities
        .into_iter()
        .map(|i| i as Box<dyn age::Identity>)
        .collect())
}

/// Decrypts an age file with any of `identities`.
pub fn open(
    path: &str,
    ciphertext: &[u8],
    identities: &[Box<dyn age::Identity>],
) -> Result<Vec<u8>, OpenError> {
    let failed = |reason: String| OpenError::Decrypt {
        path: path.to_owned(),
        reason,
    };
    let decryptor =
        age::Decryptor::new(ArmoredReader::new(ciphertext)).map_err(|e| failed(e.to_string()))?;
    let mut reader = decryptor
        .decrypt(identities.iter().map(std::convert::AsRef::as_ref))
        .map_err(|e| failed(e.to_string()))?;
    let mut plaintext = Vec::new();
    reader
        .read_to_end(&mut plaintext)
        .map_err(|e| failed(e.to_string()))?;
    Ok(plaintext)
}
