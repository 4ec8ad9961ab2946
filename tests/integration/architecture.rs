//! Tidy tests in rust-analyzer's style: the invariants ARCHITECTURE.md states,
//! checked on the source text, so breaking one fails CI with a sentence saying
//! which file broke which rule. Each rule also has a test that feeds it a
//! deliberate violation, to show it can fail.
//!
//! The layering: a module may import only modules of lower layers (never its
//! own layer's siblings, never upward), which also rules out import cycles.
//! Unit-test modules (`#[cfg(test)] mod tests`) are fixtures and may use any
//! layer.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Bottom to top. Keep in step with ARCHITECTURE.md's "Invariants".
const LAYERS: &[&[&str]] = &[
    &["system"],
    &["human", "text", "metrics"],
    &["config"],
    &["store"],
    &["ojs", "models", "demo"],
    &["inference", "sync"],
    &["agents", "update", "figures", "backup"],
    &["eval", "health"],
    &["context"],
    &["voice"],
    &["web"],
    &["service"],
];

/// (what, the only places it may appear, why)
const CONFINED: &[(&str, &[&str], &str)] = &[
    (
        "mysql_async",
        &["src/ojs/", "src/config/"],
        "only ojs/ speaks MySQL (config only checks the URL)",
    ),
    ("rusqlite", &["src/store/"], "only store/ runs SQL"),
    ("hyper", &["src/web/"], "only web/ knows HTTP"),
    ("http_body_util", &["src/web/"], "only web/ knows HTTP"),
    (
        "http_status",
        &["src/web/"],
        "only web/ knows HTTP status codes",
    ),
    (
        "StatusCode",
        &["src/web/"],
        "only web/ knows HTTP status codes",
    ),
    ("ort::", &["src/inference/"], "only inference/ runs models"),
    (
        "llama_cpp_2",
        &["src/inference/"],
        "only inference/ runs models",
    ),
    (
        "tokenizers::",
        &["src/inference/"],
        "only inference/ runs models",
    ),
    (
        "sherpa_rs",
        &["src/inference/"],
        "only inference/ runs models",
    ),
    (
        "piper_rs",
        &["src/inference/"],
        "only inference/ runs models",
    ),
    (
        "ncnn_rs",
        &["src/inference/"],
        "only inference/ touches NCNN",
    ),
    (
        "pdfium_render",
        &["src/figures/"],
        "only figures/ reads PDFs",
    ),
    (
        "ureq",
        &["src/update/", "src/bin/"],
        "only update/ downloads (the binary's evaluation also asks its own API)",
    ),
    (
        "minisign",
        &["src/update/", "src/bin/"],
        "only update/ checks and makes signatures",
    ),
    ("anyhow", &["src/bin/"], "anyhow only in the binary"),
    (
        "env::var",
        &["src/config/", "src/bin/"],
        "only config reads the environment",
    ),
    (
        "process::exit",
        &["src/bin/"],
        "only the binary decides to exit",
    ),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `src/`, as (path relative to the checkout, text).
fn sources() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root().join("src"), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(root())
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (rel, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

/// The code without comments, and without the unit-test module at the end.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod ") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|l| match l.find("//") {
            // A `//` inside a string literal ("http://…") keeps the line.
            Some(i) if l[..i].matches('"').count() % 2 == 0 => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level module a source file belongs to (`src/web/api.rs` → `web`);
/// `None` for the crate roots and the binary.
fn module_of(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("src/")?;
    if rest.starts_with("bin/") || rest == "lib.rs" {
        return None;
    }
    Some(rest.split('/').next()?.trim_end_matches(".rs"))
}

/// The crate modules a file's code names (`crate::x`, `use crate::{x, y}`).
fn imports(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for part in group[..end].split(',') {
                let name = part.trim().split("::").next().unwrap_or("").trim();
                if !name.is_empty() {
                    out.insert(name.to_string());
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// Sentences for every import that is not strictly downward.
fn layering_violations(files: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for (path, text) in files {
        let Some(module) = module_of(path) else {
            continue;
        };
        let Some(own) = layer(module) else {
            out.push(format!(
                "{path}: module `{module}` is in no layer (add it to LAYERS and ARCHITECTURE.md)"
            ));
            continue;
        };
        for dep in imports(&code(text)) {
            if dep == module {
                continue;
            }
            match layer(&dep) {
                Some(l) if l < own => {}
                Some(l) => out.push(format!(
                    "{path}: `{module}` (layer {own}) imports `{dep}` (layer {l}): only lower layers may be imported"
                )),
                None => out.push(format!("{path}: imports `{dep}`, which is in no layer")),
            }
        }
    }
    out
}

fn confinement_violations(files: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for (path, text) in files {
        let code = code(text);
        for (what, allowed, why) in CONFINED {
            if allowed.iter().any(|a| path.starts_with(a)) {
                continue;
            }
            let found = code.match_indices(what).any(|(i, _)| {
                // Whole identifiers (`hyper` must not match `hyperlink`); a
                // path (`env::var`) also matches what continues it (`var_os`).
                let before = code[..i].chars().next_back();
                let after = code[i + what.len()..].chars().next();
                let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
                !ident(before) && (what.contains("::") || !ident(after))
            });
            if found {
                out.push(format!("{path}: uses `{what}`, but {why}"));
            }
        }
    }
    out
}

/// Source paths (relative to `src/`, a module folder as `dir/`) that the code
/// map must name: every folder module and every file except `mod.rs`,
/// `lib.rs` and the binary's `main.rs`.
fn source_units(files: &[(String, String)]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (path, _) in files {
        let rel = path.strip_prefix("src/").unwrap();
        if rel == "lib.rs" {
            continue;
        }
        if let Some(dir) = rel.strip_suffix("mod.rs") {
            out.insert(dir.to_string());
        } else if let Some(dir) = rel.strip_suffix("main.rs") {
            out.insert(dir.to_string());
        } else {
            out.insert(rel.to_string());
        }
    }
    out
}

/// The backticked `src/...` paths of ARCHITECTURE.md's code map section.
fn code_map_entries(doc: &str) -> BTreeSet<String> {
    let start = doc
        .find("## Code map")
        .expect("ARCHITECTURE.md has a `## Code map`");
    let section = &doc[start + 3..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    section
        .split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|s| s.strip_prefix("src/"))
        .filter(|s| s.ends_with(".rs") || s.ends_with('/'))
        .map(str::to_string)
        .collect()
}

fn code_map_violations(files: &[(String, String)], doc: &str) -> Vec<String> {
    let units = source_units(files);
    let named = code_map_entries(doc);
    let mut out = Vec::new();
    for u in units.difference(&named) {
        out.push(format!(
            "src/{u} exists but ARCHITECTURE.md's code map does not name it"
        ));
    }
    for n in named.difference(&units) {
        out.push(format!(
            "ARCHITECTURE.md's code map names src/{n}, which does not exist"
        ));
    }
    out
}

fn assert_none(what: &str, v: Vec<String>) {
    assert!(v.is_empty(), "{what}:\n  {}", v.join("\n  "));
}

#[test]
fn modules_import_only_lower_layers_so_there_is_no_cycle() {
    assert_none("layering", layering_violations(&sources()));
}

#[test]
fn native_runtimes_sql_http_and_the_environment_stay_in_their_modules() {
    assert_none("confinement", confinement_violations(&sources()));
}

#[test]
fn the_code_map_names_every_module_and_only_real_ones() {
    let doc = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    assert_none("code map", code_map_violations(&sources(), &doc));
}

#[test]
fn every_layer_module_exists() {
    let files = sources();
    let modules: BTreeSet<&str> = files.iter().filter_map(|(p, _)| module_of(p)).collect();
    for l in LAYERS.iter().flat_map(|l| l.iter()) {
        assert!(
            modules.contains(l),
            "LAYERS names `{l}`, which is not a module"
        );
    }
}

// ---- the checks can fail ---------------------------------------------------

fn file(path: &str, text: &str) -> Vec<(String, String)> {
    vec![(path.to_string(), text.to_string())]
}

#[test]
fn an_upward_or_sideways_import_is_caught() {
    let v = layering_violations(&file("src/store/x.rs", "use crate::web::Reply;\n"));
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].contains("`store` (layer 3) imports `web`"), "{v:?}");
    // Siblings in one layer would allow a cycle.
    let v = layering_violations(&file(
        "src/sync/x.rs",
        "use crate::{inference::Embedder, store};",
    ));
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].contains("imports `inference`"), "{v:?}");
    // Downward is fine; comments and unit tests do not count.
    assert_none(
        "downward",
        layering_violations(&file(
            "src/web/x.rs",
            "use crate::store::Store; // crate::service\n#[cfg(test)]\nmod tests { use crate::service::Service; }",
        )),
    );
}

#[test]
fn a_native_crate_or_sql_outside_its_module_is_caught() {
    let v = confinement_violations(&file("src/web/x.rs", "use rusqlite::Connection;"));
    assert!(v[0].contains("only store/ runs SQL"), "{v:?}");
    let v = confinement_violations(&file(
        "src/agents/x.rs",
        "fn f() -> u16 { e.http_status() }",
    ));
    assert!(v[0].contains("HTTP status"), "{v:?}");
    let v = confinement_violations(&file("src/models/x.rs", "std::env::var_os(\"HOME\")"));
    assert!(v[0].contains("environment"), "{v:?}");
    assert_none(
        "allowed",
        confinement_violations(&file("src/ojs/x.rs", "use mysql_async::Pool; // hyperlink")),
    );
}

#[test]
fn a_stale_or_missing_code_map_entry_is_caught() {
    let files = [
        ("src/web/mod.rs".to_string(), String::new()),
        ("src/web/api.rs".to_string(), String::new()),
        ("src/store/mod.rs".to_string(), String::new()),
    ];
    let doc =
        "## Code map\n`src/web/` and `src/web/api.rs` and `src/gone.rs`\n## Next\n`src/store/`";
    let v = code_map_violations(&files, doc);
    assert_eq!(
        v,
        vec![
            "src/store/ exists but ARCHITECTURE.md's code map does not name it".to_string(),
            "ARCHITECTURE.md's code map names src/gone.rs, which does not exist".to_string(),
        ]
    );
}
