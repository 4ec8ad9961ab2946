//! The channel's index: the one document a publisher signs and a box reads.
//! Pure data and checks; nothing here touches the network or the disk.

use super::UpdateError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The index's file name in a channel (and on a USB stick).
pub const INDEX_FILE: &str = "index.json";
/// Its minisign signature, beside it.
pub const SIGNATURE_FILE: &str = "index.json.minisig";
/// The index format this ojscog reads.
pub const FORMAT: u32 = 1;
/// A larger index is refused before it is parsed.
pub const MAX_INDEX_BYTES: u64 = 1024 * 1024;
/// A larger signature file is refused (real ones are about 300 bytes).
pub const MAX_SIGNATURE_BYTES: u64 = 4096;
/// Artifacts in one index at most.
pub const MAX_ARTIFACTS: usize = 256;
/// Files in one artifact at most.
pub const MAX_FILES: usize = 64;
/// One file at most (a system bundle is a few hundred MB; a model a few GB).
pub const MAX_FILE_BYTES: u64 = 16 << 30;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Index {
    pub format: u32,
    /// Grows with every publication: a box refuses an index whose serial is
    /// below the last one it accepted (a replayed, older index).
    pub serial: u64,
    /// Unix time of publication (shown; the serial decides freshness).
    pub created_at: i64,
    /// A name for people (`"journal-box stable"`).
    #[serde(default)]
    pub channel: String,
    pub artifacts: Vec<Artifact>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Files for the model store (`<data_dir>/models/<name>/<version>/`).
    Model,
    /// A RAUC bundle for this board, installed into the other root slot.
    System,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Model => "model",
            Kind::System => "system",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Artifact {
    pub kind: Kind,
    pub name: String,
    pub version: String,
    pub files: Vec<ArtifactFile>,
    /// Settings the runtime needs for this model (context size, dimensions,
    /// pooling…), kept beside the files as `ojscog-runtime.json`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub runtime: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub licence: String,
    /// The oldest ojscog that can use it (`x.y.z`); newer artifacts are skipped.
    #[serde(default)]
    pub min_ojscog: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ArtifactFile {
    /// Where it is, relative to the index (`models/minilm/2.0.0/model.onnx`).
    pub url: String,
    /// Where it goes inside the model's version directory (`model.onnx`).
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

impl Artifact {
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// `model minilm 2.0.0`, for logs and errors.
    pub fn label(&self) -> String {
        format!("{} {} {}", self.kind.as_str(), self.name, self.version)
    }

    /// Whether this ojscog (`ours`, `x.y.z`) is new enough for it.
    pub fn runs_on(&self, ours: &str) -> bool {
        self.min_ojscog.is_empty() || version_key(ours) >= version_key(&self.min_ojscog)
    }
}

/// `1.2.3` as numbers (missing or non-numeric parts count as 0).
pub fn version_key(v: &str) -> Vec<u64> {
    v.split(['.', '-', '+'])
        .take(3)
        .map(|p| p.parse().unwrap_or(0))
        .collect()
}

impl Index {
    /// Parses and checks an index's bytes (the signature was checked first).
    pub fn parse(bytes: &[u8]) -> Result<Index, UpdateError> {
        if bytes.len() as u64 > MAX_INDEX_BYTES {
            return Err(bad(format!(
                "is {} bytes, more than the {MAX_INDEX_BYTES} allowed",
                bytes.len()
            )));
        }
        let index: Index =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("is not valid: {e}")))?;
        index.check()?;
        Ok(index)
    }

    /// Every rule a box holds an index to: known format, bounded sizes, safe
    /// names and paths, one entry per (kind, name), well-formed hashes.
    pub fn check(&self) -> Result<(), UpdateError> {
        if self.format != FORMAT {
            return Err(bad(format!(
                "has format {}; this ojscog reads format {FORMAT}",
                self.format
            )));
        }
        if self.artifacts.len() > MAX_ARTIFACTS {
            return Err(bad(format!("lists more than {MAX_ARTIFACTS} artifacts")));
        }
        let mut seen = std::collections::BTreeSet::new();
        for a in &self.artifacts {
            let what = a.label();
            crate::models::check_name("artifact name", &a.name)
                .map_err(|e| bad(format!("{what}: {e}")))?;
            crate::models::check_name("artifact version", &a.version)
                .map_err(|e| bad(format!("{what}: {e}")))?;
            if !seen.insert((a.kind, a.name.clone())) {
                return Err(bad(format!("lists {} {} twice", a.kind.as_str(), a.name)));
            }
            if a.files.is_empty() || a.files.len() > MAX_FILES {
                return Err(bad(format!("{what}: needs 1 to {MAX_FILES} files")));
            }
            if a.kind == Kind::System
                && (a.files.len() != 1 || !a.files[0].path.ends_with(".raucb"))
            {
                return Err(bad(format!(
                    "{what}: a system artifact is one .raucb bundle"
                )));
            }
            let mut paths = std::collections::BTreeSet::new();
            for f in &a.files {
                check_url(&f.url).map_err(|m| bad(format!("{what}: url `{}` {m}", f.url)))?;
                crate::models::check_rel_path(&f.path).map_err(|e| bad(format!("{what}: {e}")))?;
                if f.path == crate::models::MANIFEST || f.path == RUNTIME_FILE {
                    return Err(bad(format!("{what}: `{}` is a reserved name", f.path)));
                }
                if !paths.insert(f.path.as_str()) {
                    return Err(bad(format!("{what}: `{}` listed twice", f.path)));
                }
                if f.sha256.len() != 64
                    || !f
                        .sha256
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
                {
                    return Err(bad(format!(
                        "{what}: `{}` has no lowercase hex sha256",
                        f.path
                    )));
                }
                if f.size > MAX_FILE_BYTES {
                    return Err(bad(format!("{what}: `{}` is larger than allowed", f.path)));
                }
            }
        }
        Ok(())
    }
}

/// The file that carries an artifact's `runtime` settings into its version.
pub const RUNTIME_FILE: &str = "ojscog-runtime.json";

/// A file's place relative to the index: plain relative path segments only
/// (no scheme, host, query, `..`, or leading `/`), so a channel can only point
/// at its own files.
fn check_url(u: &str) -> Result<(), &'static str> {
    if u.is_empty() || u.len() > 512 {
        return Err("must be 1 to 512 characters");
    }
    if u.starts_with('/') {
        return Err("must be relative to the index");
    }
    if !u
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+' | b'/'))
    {
        return Err("may use letters, digits, . - _ + and /");
    }
    if u.split('/').any(|s| s.is_empty() || s.starts_with('.')) {
        return Err("has an empty, `..` or hidden segment");
    }
    Ok(())
}

fn bad(message: String) -> UpdateError {
    UpdateError::Index(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(files: serde_json::Value) -> serde_json::Value {
        serde_json::json!({
            "format": 1, "serial": 7, "created_at": 1_790_000_000,
            "artifacts": [{"kind": "model", "name": "minilm", "version": "2.0.0", "files": files}]
        })
    }

    fn file(url: &str, path: &str) -> serde_json::Value {
        serde_json::json!({"url": url, "path": path, "sha256": "ab".repeat(32), "size": 10})
    }

    fn parse(v: serde_json::Value) -> Result<Index, UpdateError> {
        Index::parse(v.to_string().as_bytes())
    }

    #[test]
    fn a_well_formed_index_parses() {
        let i = parse(index(serde_json::json!([file(
            "models/minilm/2.0.0/model.onnx",
            "model.onnx"
        )])))
        .unwrap();
        assert_eq!(i.serial, 7);
        assert_eq!(i.artifacts[0].total_bytes(), 10);
    }

    #[test]
    fn urls_that_leave_the_channel_are_refused() {
        for u in [
            "../x",
            "/etc/passwd",
            "http://evil/x",
            "a//b",
            "a/.hidden",
            "a?b=1",
            "",
        ] {
            let e = parse(index(serde_json::json!([file(u, "model.onnx")]))).unwrap_err();
            assert!(e.to_string().contains("url"), "{u}: {e}");
        }
    }

    #[test]
    fn destination_paths_and_reserved_names_are_checked() {
        for p in [
            "../model.onnx",
            "/model.onnx",
            "manifest.json",
            "ojscog-runtime.json",
        ] {
            assert!(
                parse(index(serde_json::json!([file("a/b", p)]))).is_err(),
                "{p}"
            );
        }
    }

    #[test]
    fn unknown_fields_formats_and_bad_hashes_are_refused() {
        let mut v = index(serde_json::json!([file("a", "b")]));
        v["format"] = 2.into();
        assert!(parse(v).unwrap_err().to_string().contains("format 2"));
        let mut v = index(serde_json::json!([file("a", "b")]));
        v["surprise"] = 1.into();
        assert!(parse(v).is_err());
        let mut f = file("a", "b");
        f["sha256"] = "AB".repeat(32).into();
        assert!(parse(index(serde_json::json!([f]))).is_err());
        assert!(Index::parse(b"not json").is_err());
    }

    #[test]
    fn a_system_artifact_is_one_bundle() {
        let mut v = index(serde_json::json!([file("a", "rootfs.img")]));
        v["artifacts"][0]["kind"] = "system".into();
        assert!(parse(v).is_err());
        let mut v = index(serde_json::json!([file("a", "update.raucb")]));
        v["artifacts"][0]["kind"] = "system".into();
        assert!(parse(v).is_ok());
    }

    #[test]
    fn min_ojscog_compares_as_numbers() {
        let mut a = parse(index(serde_json::json!([file("a", "b")])))
            .unwrap()
            .artifacts[0]
            .clone();
        a.min_ojscog = "0.10.0".into();
        assert!(!a.runs_on("0.9.5"));
        assert!(a.runs_on("0.10.0"));
        assert!(a.runs_on("1.0.0"));
    }
}
