//! Whom a box believes: the minisign public keys it trusts, the signature
//! check of an index, and the freshness rule against replays.
//!
//! The baked keys (`/etc/ojscog/update-keys/*.pub` on the read-only root) are
//! always trusted; `update.extra_keys` may add keys but never remove one.

use super::index::Index;
use super::UpdateError;
use std::path::{Path, PathBuf};

/// One trusted key and where it came from (shown when it signs).
#[derive(Clone)]
pub struct TrustedKey {
    pub id: String,
    pub origin: String,
    key: minisign::PublicKey,
}

#[derive(Clone, Default)]
pub struct TrustedKeys {
    keys: Vec<TrustedKey>,
}

/// What a good signature established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The key that signed, as minisign prints it (16 hex digits).
    pub key_id: String,
    pub trusted_comment: String,
}

/// minisign's key id: the 8 key-number bytes, little-endian, as 16 hex digits.
fn key_id(keynum: &[u8]) -> String {
    keynum.iter().rev().map(|b| format!("{b:02X}")).collect()
}

impl TrustedKeys {
    /// Every `*.pub` file of `dir` (a missing dir adds nothing), then each of
    /// `extra`: a `.pub` file's path or a key's base64 line.
    pub fn load(dir: &Path, extra: &[String]) -> Result<TrustedKeys, UpdateError> {
        let mut keys = TrustedKeys::default();
        if dir.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(|e| UpdateError::Keys(format!("cannot list {}: {e}", dir.display())))?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "pub"))
                .collect();
            files.sort();
            for f in files {
                keys.add_file(&f)?;
            }
        }
        for k in extra {
            if k.ends_with(".pub") || k.contains('/') {
                keys.add_file(Path::new(k))?;
            } else {
                let key = minisign::PublicKey::from_base64(k.trim()).map_err(|e| {
                    UpdateError::Keys(format!(
                        "update.extra_keys: `{k}` is not a minisign public key: {e}"
                    ))
                })?;
                keys.push(key, "update.extra_keys".into());
            }
        }
        Ok(keys)
    }

    fn add_file(&mut self, path: &Path) -> Result<(), UpdateError> {
        let text = read_small(path, 4096)
            .map_err(|e| UpdateError::Keys(format!("cannot read key {}: {e}", path.display())))?;
        let key = minisign::PublicKeyBox::from_string(&text)
            .and_then(|b| b.into_public_key())
            .map_err(|e| {
                UpdateError::Keys(format!(
                    "{} is not a minisign public key: {e}",
                    path.display()
                ))
            })?;
        self.push(key, path.display().to_string());
        Ok(())
    }

    fn push(&mut self, key: minisign::PublicKey, origin: String) {
        let id = key_id(key.keynum());
        if !self.keys.iter().any(|k| k.id == id) {
            self.keys.push(TrustedKey { id, origin, key });
        }
    }

    pub fn ids(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.id.clone()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Checks `signature` (a `.minisig` file's text) over `data`. Refuses a
    /// malformed signature, a legacy (not pre-hashed) one, one by a key not
    /// trusted here, and one that does not match.
    pub fn verify(&self, data: &[u8], signature: &str) -> Result<Signed, UpdateError> {
        let sig = minisign::SignatureBox::from_string(signature)
            .map_err(|e| UpdateError::Signature(format!("the signature file is malformed: {e}")))?;
        let signer = key_id(sig.keynum());
        let Some(k) = self.keys.iter().find(|k| k.id == signer) else {
            return Err(UpdateError::UntrustedKey {
                key_id: signer,
                trusted: self.ids(),
            });
        };
        minisign::verify(&k.key, &sig, std::io::Cursor::new(data), true, false, false)
            .map_err(|e| UpdateError::Signature(format!("does not match the index: {e}")))?;
        Ok(Signed {
            key_id: signer,
            trusted_comment: sig.trusted_comment().unwrap_or_default(),
        })
    }
}

pub use crate::store::AcceptedIndex as Accepted;

/// The replay rule: an index is fresh when its serial is above the last
/// accepted one, or equal with the very same bytes (a re-check of the same
/// publication). Anything older, or a different index under the same serial,
/// is refused.
pub fn check_fresh(
    last: Option<&Accepted>,
    index: &Index,
    index_sha256: &str,
) -> Result<(), UpdateError> {
    let Some(last) = last else { return Ok(()) };
    if index.serial > last.serial
        || (index.serial == last.serial && index_sha256 == last.index_sha256)
    {
        return Ok(());
    }
    Err(UpdateError::Replay {
        serial: index.serial,
        accepted: last.serial,
    })
}

/// Reads a file of at most `max` bytes as text.
pub(super) fn read_small(path: &Path, max: u64) -> std::io::Result<String> {
    use std::io::Read;
    let mut s = String::new();
    std::fs::File::open(path)?
        .take(max + 1)
        .read_to_string(&mut s)?;
    if s.len() as u64 > max {
        return Err(std::io::Error::other(format!("larger than {max} bytes")));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(serial: u64) -> Index {
        Index {
            format: 1,
            serial,
            created_at: 0,
            channel: String::new(),
            artifacts: vec![],
        }
    }

    #[test]
    fn an_older_index_or_a_different_one_under_the_same_serial_is_a_replay() {
        let last = Accepted {
            serial: 5,
            index_sha256: "aa".into(),
            key_id: "K".into(),
            accepted_at: 0,
        };
        assert!(check_fresh(None, &index(1), "x").is_ok());
        assert!(check_fresh(Some(&last), &index(6), "x").is_ok());
        assert!(check_fresh(Some(&last), &index(5), "aa").is_ok());
        assert!(matches!(
            check_fresh(Some(&last), &index(5), "bb"),
            Err(UpdateError::Replay { .. })
        ));
        assert!(matches!(
            check_fresh(Some(&last), &index(4), "aa"),
            Err(UpdateError::Replay {
                serial: 4,
                accepted: 5
            })
        ));
    }

    #[test]
    fn a_signature_verifies_only_with_a_trusted_key_and_the_same_bytes() {
        let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        let other = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        let data = b"{\"format\":1}";
        let sig = minisign::sign(Some(&kp.pk), &kp.sk, &data[..], None, None)
            .unwrap()
            .into_string();
        let mut keys = TrustedKeys::default();
        keys.push(kp.pk.clone(), "test".into());
        let ok = keys.verify(data, &sig).unwrap();
        assert_eq!(ok.key_id, key_id(kp.pk.keynum()));
        assert!(matches!(
            keys.verify(b"{\"format\":2}", &sig),
            Err(UpdateError::Signature(_))
        ));
        assert!(matches!(
            keys.verify(data, "garbage"),
            Err(UpdateError::Signature(_))
        ));
        let mut others = TrustedKeys::default();
        others.push(other.pk.clone(), "test".into());
        assert!(matches!(
            others.verify(data, &sig),
            Err(UpdateError::UntrustedKey { .. })
        ));
    }
}
