//! Finds NCNN (built by `scripts/build-ncnn.sh` from the PyPI sdist: `lib/libncnn.so`, `include/ncnn/c_api.h`),
//! generates the bindings from that header and links the library dynamically.
//!
//! `NCNN_DIR` names the install prefix; without it the default is `$OJSCOG_CACHE/native/ncnn-<version>-<arch>`
//! (`OJSCOG_CACHE` defaults to `~/.cache/ojscog`), the place `scripts/build-ncnn.sh` installs to. Nothing is cloned
//! or downloaded here.
use std::env;
use std::path::PathBuf;

const NCNN_VERSION: &str = "1.0.20261020";

fn main() {
    println!("cargo:rerun-if-env-changed=NCNN_DIR");
    println!("cargo:rerun-if-env-changed=OJSCOG_CACHE");
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let root = match env::var_os("NCNN_DIR") {
        Some(p) => PathBuf::from(p),
        None => {
            let cache = env::var_os("OJSCOG_CACHE").map(PathBuf::from).unwrap_or_else(|| {
                PathBuf::from(env::var_os("HOME").unwrap_or_default()).join(".cache/ojscog")
            });
            cache.join("native").join(format!("ncnn-{NCNN_VERSION}-{arch}"))
        }
    };
    let header = root.join("include/ncnn/c_api.h");
    let lib = root.join("lib");
    if !header.is_file() || !lib.join("libncnn.so").is_file() {
        panic!(
            "NCNN {NCNN_VERSION} for {arch} not found at {} (want include/ncnn/c_api.h and lib/libncnn.so): run \
             `scripts/build-ncnn.sh --arch {arch}` or set NCNN_DIR",
            root.display()
        );
    }
    println!("cargo:rerun-if-changed={}", header.display());
    println!("cargo:rustc-link-search=native={}", lib.display());
    println!("cargo:rustc-link-lib=dylib=ncnn");
    // For dependents' build scripts (DEP_NCNN_LIB_DIR): where libncnn.so is, to set an rpath.
    println!("cargo:lib_dir={}", lib.display());

    let target = env::var("TARGET").unwrap_or_default();
    let mut builder = bindgen::Builder::default()
        .header(header.to_string_lossy())
        .clang_arg(format!("-I{}", root.join("include/ncnn").display()))
        .allowlist_function("ncnn_.*")
        .allowlist_type("ncnn_.*")
        // ncnn-rs 0.1.1 was written against bindings with `size_t` as its own type (c_ulong, u64 here).
        .size_t_is_usize(false)
        .allowlist_type("size_t")
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()));
    if !target.is_empty() {
        builder = builder.clang_arg(format!("--target={target}"));
    }
    if arch == "aarch64" && env::var("HOST").map(|h| !h.starts_with("aarch64")).unwrap_or(true) {
        // The cross compiler's sysroot, for <stddef.h> and friends.
        builder = builder.clang_arg("--sysroot=/usr/aarch64-linux-gnu");
    }
    let bindings = builder
        .generate()
        .unwrap_or_else(|e| panic!("bindgen failed on {}: {e}", header.display()));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("bindings.rs");
    bindings
        .write_to_file(&out)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
}
