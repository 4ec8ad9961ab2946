//! Format checks of downloaded model files, before anything is registered:
//! a GGUF header whose counts fit the file, an ONNX protobuf with a graph, a
//! tokenizer JSON that parses, an NCNN param/bin pair, a Piper voice JSON.
//! Cheap and bounded: headers and small files only, nothing loaded.

use std::io::Read;
use std::path::Path;

/// Checks `file` (stored at `path`, named `name` inside the version) by its
/// name. `siblings` are the other names of the artifact (an NCNN `.param`
/// needs its `.bin`). Files of no known format pass.
pub fn check(name: &str, path: &Path, siblings: &[&str]) -> Result<(), String> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".gguf") {
        crate::inference::llm::check_gguf_file(path)
            .map(|_| ())
            .map_err(|e| e.to_string())
    } else if lower.ends_with(".onnx") {
        check_onnx(path)
    } else if lower.ends_with("tokenizer.json") {
        let v = read_json(path)?;
        if v.get("model").is_some_and(|m| m.is_object()) {
            Ok(())
        } else {
            Err("a tokenizer JSON needs a `model` object".into())
        }
    } else if lower.ends_with(".onnx.json") {
        // A Piper voice's settings.
        let v = read_json(path)?;
        if v.get("audio").and_then(|a| a.get("sample_rate")).is_some() {
            Ok(())
        } else {
            Err("a Piper voice JSON needs audio.sample_rate".into())
        }
    } else if lower.ends_with(".param") {
        let bin = format!("{}.bin", &name[..name.len() - ".param".len()]);
        if !siblings.contains(&bin.as_str()) {
            return Err(format!(
                "an NCNN param file needs its weights `{bin}` in the artifact"
            ));
        }
        let head = read_head(path, 64)?;
        let magic = String::from_utf8_lossy(&head);
        if magic.trim_start().starts_with("7767517") {
            Ok(())
        } else {
            Err("an NCNN param file starts with the magic 7767517".into())
        }
    } else if lower.ends_with(".json") {
        read_json(path).map(|_| ())
    } else {
        Ok(())
    }
}

/// JSON files above this are not parsed here (a tokenizer is ~1 MB).
const MAX_JSON_BYTES: u64 = 64 << 20;

fn read_json(path: &Path) -> Result<serde_json::Value, String> {
    let len = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if len > MAX_JSON_BYTES {
        return Err(format!("a JSON file of {len} bytes is larger than allowed"));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| format!("is not valid JSON: {e}"))
}

fn read_head(path: &Path, n: u64) -> Result<Vec<u8>, String> {
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(n).read_to_end(&mut head))
        .map_err(|e| e.to_string())?;
    Ok(head)
}

/// An ONNX `ModelProto`: a protobuf whose top-level fields all parse and
/// whose field 7 (`graph`) is present and not empty. Walks the top level only,
/// skipping over the (large) graph by its length, so it reads the file once.
fn check_onnx(path: &Path) -> Result<(), String> {
    let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let len = f.metadata().map_err(|e| e.to_string())?.len();
    let mut r = std::io::BufReader::new(f);
    let mut pos = 0u64;
    let mut graph = false;
    let mut ir_version = false;
    while pos < len {
        let key = varint(&mut r, &mut pos)?;
        let (field, wire) = (key >> 3, key & 7);
        if field == 0 {
            return Err(format!("not an ONNX model: field 0 at byte {pos}"));
        }
        match wire {
            0 => {
                varint(&mut r, &mut pos)?;
                if field == 1 {
                    ir_version = true;
                }
            }
            1 => skip(&mut r, &mut pos, 8, len)?,
            5 => skip(&mut r, &mut pos, 4, len)?,
            2 => {
                let n = varint(&mut r, &mut pos)?;
                if n > len - pos {
                    return Err(format!(
                        "not an ONNX model (or truncated): field {field} claims {n} bytes, {} are left",
                        len - pos
                    ));
                }
                if field == 7 && n > 0 {
                    graph = true;
                }
                skip(&mut r, &mut pos, n, len)?;
            }
            w => return Err(format!("not an ONNX model: wire type {w} at byte {pos}")),
        }
    }
    match (ir_version, graph) {
        (true, true) => Ok(()),
        (false, _) => Err("not an ONNX model: no ir_version".into()),
        (_, false) => Err("an ONNX model without a graph".into()),
    }
}

fn varint(r: &mut impl Read, pos: &mut u64) -> Result<u64, String> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let mut b = [0u8; 1];
        r.read_exact(&mut b).map_err(|_| {
            "not an ONNX model (or truncated): a number runs past the end".to_string()
        })?;
        *pos += 1;
        v |= u64::from(b[0] & 0x7f) << shift;
        if b[0] & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("not an ONNX model: a number longer than 10 bytes".into())
}

fn skip(r: &mut impl Read, pos: &mut u64, n: u64, len: u64) -> Result<(), String> {
    if n > len - *pos {
        return Err("not an ONNX model (or truncated)".into());
    }
    let got = std::io::copy(&mut r.take(n), &mut std::io::sink()).map_err(|e| e.to_string())?;
    if got != n {
        return Err("not an ONNX model (or truncated)".into());
    }
    *pos += n;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// The smallest ModelProto shape: ir_version = 8, a graph of 3 bytes.
    fn tiny_onnx() -> Vec<u8> {
        vec![0x08, 0x08, 0x3a, 0x03, 0x0a, 0x01, 0x78]
    }

    #[test]
    fn an_onnx_model_needs_a_graph_and_all_its_bytes() {
        let d = tempfile::tempdir().unwrap();
        assert!(check("m.onnx", &write(d.path(), "a.onnx", &tiny_onnx()), &[]).is_ok());
        let truncated = &tiny_onnx()[..5];
        let e = check("m.onnx", &write(d.path(), "b.onnx", truncated), &[]).unwrap_err();
        assert!(e.contains("truncated"), "{e}");
        let e = check("m.onnx", &write(d.path(), "c.onnx", &[0x08, 0x08]), &[]).unwrap_err();
        assert!(e.contains("graph"), "{e}");
        assert!(check(
            "m.onnx",
            &write(d.path(), "d.onnx", b"<html>404</html>"),
            &[]
        )
        .is_err());
    }

    #[test]
    fn gguf_tokenizer_and_ncnn_files_are_checked_by_name() {
        let d = tempfile::tempdir().unwrap();
        let e = check("x.gguf", &write(d.path(), "x.gguf", b"GGML...."), &[]).unwrap_err();
        assert!(e.contains("GGUF"), "{e}");
        assert!(check(
            "tokenizer.json",
            &write(d.path(), "t.json", br#"{"model":{}}"#),
            &[]
        )
        .is_ok());
        assert!(check(
            "tokenizer.json",
            &write(d.path(), "u.json", br#"{"model":"#),
            &[]
        )
        .is_err());
        let p = write(d.path(), "n.param", b"7767517\n3 3\n");
        assert!(check("n.param", &p, &["n.param"]).is_err());
        assert!(check("n.param", &p, &["n.param", "n.bin"]).is_ok());
        let v = write(
            d.path(),
            "v.onnx.json",
            br#"{"audio":{"sample_rate":22050}}"#,
        );
        assert!(check("voice.onnx.json", &v, &[]).is_ok());
        assert!(check("notes.txt", &v, &[]).is_ok());
    }
}
