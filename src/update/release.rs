//! Publishing a channel (`ojscog release keygen|index|sign`): what a journal
//! or vendor runs on their own machine, never on the box.
//!
//! A channel directory is laid out as
//! `models/<name>/<version>/<files>` and `system/<name>/<version>/<bundle>.raucb`;
//! an optional `artifact.json` in a version directory carries `runtime`,
//! `licence` and `min_ojscog`. `index` hashes every file into `index.json`;
//! `sign` writes `index.json.minisig` with a minisign secret key.

use super::index::{Artifact, ArtifactFile, Index, Kind, FORMAT, INDEX_FILE, SIGNATURE_FILE};
use super::UpdateError;
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The per-version settings file a publisher may add.
pub const ARTIFACT_META: &str = "artifact.json";

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Meta {
    runtime: BTreeMap<String, serde_json::Value>,
    licence: String,
    min_ojscog: String,
}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> UpdateError {
    let path = path.to_path_buf();
    move |source| UpdateError::Io { op, path, source }
}

fn sign_err(e: impl std::fmt::Display) -> UpdateError {
    UpdateError::Keys(e.to_string())
}

/// Writes a new key pair `<dir>/<name>.pub` and `<dir>/<name>.key` (mode 0600),
/// refusing to overwrite. With `password` None the secret key is unencrypted
/// (for test channels and signing machines with their own protection).
pub fn keygen(
    dir: &Path,
    name: &str,
    password: Option<String>,
) -> Result<(PathBuf, PathBuf), UpdateError> {
    std::fs::create_dir_all(dir).map_err(io("cannot create", dir))?;
    let (pub_path, key_path) = (
        dir.join(format!("{name}.pub")),
        dir.join(format!("{name}.key")),
    );
    for p in [&pub_path, &key_path] {
        if p.exists() {
            return Err(UpdateError::Keys(format!(
                "{} exists; not overwriting a key",
                p.display()
            )));
        }
    }
    let kp = match password {
        Some(pw) => minisign::KeyPair::generate_encrypted_keypair(Some(pw)),
        None => minisign::KeyPair::generate_unencrypted_keypair(),
    }
    .map_err(sign_err)?;
    let comment = format!("ojscog update key {name}");
    let sk_box = kp.sk.to_box(Some(&comment)).map_err(sign_err)?;
    let pk_box = kp.pk.to_box().map_err(sign_err)?;
    write_new(&key_path, sk_box.to_string().as_bytes(), 0o600)?;
    write_new(&pub_path, pk_box.to_string().as_bytes(), 0o644)?;
    Ok((pub_path, key_path))
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), UpdateError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io("cannot create", path))?;
    f.write_all(bytes).map_err(io("cannot write", path))?;
    f.sync_all().map_err(io("cannot fsync", path))
}

/// Writes `bytes` to `path` through a temporary file, fsync and rename.
fn replace(path: &Path, bytes: &[u8]) -> Result<(), UpdateError> {
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    write_new(&tmp, bytes, 0o644)?;
    std::fs::rename(&tmp, path).map_err(io("cannot rename", &tmp))
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, UpdateError> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io("cannot list", dir))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    v.sort();
    Ok(v)
}

/// Files below `dir`, as paths relative to it (sorted, hidden ones skipped).
fn files_below(
    dir: &Path,
    prefix: &str,
    out: &mut Vec<(String, PathBuf)>,
) -> Result<(), UpdateError> {
    for p in sorted_entries(dir)? {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let rel = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        let meta = std::fs::symlink_metadata(&p).map_err(io("cannot stat", &p))?;
        if meta.is_dir() {
            files_below(&p, &rel, out)?;
        } else if meta.is_file() && !(prefix.is_empty() && name == ARTIFACT_META) {
            out.push((rel, p));
        }
    }
    Ok(())
}

/// The index of the channel in `dir` (see the module docs), checked as a box
/// would check it.
pub fn build_index(dir: &Path, serial: u64, channel: &str, now: i64) -> Result<Index, UpdateError> {
    let mut artifacts = Vec::new();
    for (sub, kind) in [("models", Kind::Model), ("system", Kind::System)] {
        let base = dir.join(sub);
        if !base.is_dir() {
            continue;
        }
        for name_dir in sorted_entries(&base)? {
            let name = name_dir
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            let versions = sorted_entries(&name_dir)?;
            // The newest version of each artifact is offered (numeric order).
            let Some(vdir) = versions.iter().filter(|p| p.is_dir()).max_by_key(|p| {
                let v = p
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default();
                (super::index::version_key(&v), v)
            }) else {
                continue;
            };
            let version = vdir
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            let meta: Meta = match std::fs::read(vdir.join(ARTIFACT_META)) {
                Ok(b) => serde_json::from_slice(&b).map_err(|e| {
                    UpdateError::Index(format!("{}: {e}", vdir.join(ARTIFACT_META).display()))
                })?,
                Err(_) => Meta::default(),
            };
            let mut found = Vec::new();
            files_below(vdir, "", &mut found)?;
            let mut files = Vec::new();
            for (rel, path) in found {
                let (sha256, size) = super::fetch::hash_of(&path)?;
                files.push(ArtifactFile {
                    url: format!("{sub}/{name}/{version}/{rel}"),
                    path: rel,
                    sha256,
                    size,
                });
            }
            artifacts.push(Artifact {
                kind,
                name,
                version,
                files,
                runtime: meta.runtime,
                licence: meta.licence,
                min_ojscog: meta.min_ojscog,
            });
        }
    }
    let index = Index {
        format: FORMAT,
        serial,
        created_at: now,
        channel: channel.to_string(),
        artifacts,
    };
    index.check()?;
    Ok(index)
}

/// Writes `index` as `<dir>/index.json`.
pub fn write_index(dir: &Path, index: &Index) -> Result<PathBuf, UpdateError> {
    let path = dir.join(INDEX_FILE);
    let text = serde_json::to_vec_pretty(index).map_err(|e| UpdateError::Index(e.to_string()))?;
    replace(&path, &text)?;
    Ok(path)
}

/// A secret key as `minisign -G -W` (the minisign tool, 0.11) writes it:
/// unencrypted, with its checksum left zero, which the `minisign` crate
/// refuses as corrupted. Taken only when it is unencrypted, the checksum is
/// all zero, and its secret half really belongs to its public half.
fn unencrypted_without_checksum(text: &str) -> Option<minisign::SecretKey> {
    use base64::Engine as _;
    let line = text.lines().nth(1)?.trim();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(line)
        .ok()?;
    // sig_alg 2, kdf_alg 2, chk_alg 2, salt 32, opslimit 8, memlimit 8,
    // keynum 8, secret key 64 (seed and public key), checksum 32.
    if bytes.len() != 158 || bytes[2..4] != [0, 0] || bytes[126..].iter().any(|b| *b != 0) {
        return None;
    }
    let sk = minisign::SecretKey::from_bytes(&bytes).ok()?;
    // The public key derived from the seed must be the one stored beside it.
    let pk = minisign::PublicKey::from_secret_key(&sk).ok()?;
    let probe = b"ojscog key check";
    let sig = minisign::sign(None, &sk, std::io::Cursor::new(probe), None, None).ok()?;
    minisign::verify(&pk, &sig, std::io::Cursor::new(probe), true, false, false).ok()?;
    Some(sk)
}

/// Signs `<dir>/index.json` with the secret key file `key` into
/// `index.json.minisig`. An encrypted key needs `password`.
pub fn sign(dir: &Path, key: &Path, password: Option<String>) -> Result<PathBuf, UpdateError> {
    let index = dir.join(INDEX_FILE);
    let data = std::fs::read(&index).map_err(io("cannot read", &index))?;
    let text = std::fs::read_to_string(key).map_err(io("cannot read", key))?;
    let sk_box = minisign::SecretKeyBox::from_string(&text).map_err(sign_err)?;
    let sk = match password {
        Some(pw) => sk_box.into_secret_key(Some(pw)),
        None => sk_box
            .into_unencrypted_secret_key()
            .or_else(|e| unencrypted_without_checksum(&text).ok_or(e)),
    }
    .map_err(|e| UpdateError::Keys(format!("{}: {e}", key.display())))?;
    let serial = serde_json::from_slice::<serde_json::Value>(&data)
        .ok()
        .and_then(|v| v.get("serial").and_then(|s| s.as_u64()))
        .unwrap_or(0);
    let trusted = format!("ojscog update index serial {serial}");
    let sig = minisign::sign(None, &sk, std::io::Cursor::new(&data), Some(&trusted), None)
        .map_err(sign_err)?;
    let path = dir.join(SIGNATURE_FILE);
    replace(&path, sig.to_string().as_bytes())?;
    Ok(path)
}
