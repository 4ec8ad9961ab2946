//! Finds sherpa-onnx's shared libraries and header (the PyPI `sherpa-onnx-core` wheel, unpacked by
//! `scripts/native-libs.sh`), generates the bindings from that header and links the C API dynamically.
//!
//! `SHERPA_LIB_PATH` names the unpacked wheel's `sherpa_onnx` directory (with `lib/` and `include/`); without it the
//! default is `$OJSCOG_CACHE/native/sherpa-onnx-<version>-<arch>/sherpa_onnx` (`OJSCOG_CACHE` defaults to
//! `~/.cache/ojscog`), the place `scripts/native-libs.sh` writes to.
use std::env;
use std::path::PathBuf;

const SHERPA_VERSION: &str = "1.12.10";

fn main() {
    println!("cargo:rerun-if-env-changed=SHERPA_LIB_PATH");
    println!("cargo:rerun-if-env-changed=OJSCOG_CACHE");
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let root = match env::var_os("SHERPA_LIB_PATH") {
        Some(p) => PathBuf::from(p),
        None => {
            let cache = env::var_os("OJSCOG_CACHE").map(PathBuf::from).unwrap_or_else(|| {
                PathBuf::from(env::var_os("HOME").unwrap_or_default()).join(".cache/ojscog")
            });
            cache
                .join("native")
                .join(format!("sherpa-onnx-{SHERPA_VERSION}-{arch}"))
                .join("sherpa_onnx")
        }
    };
    let header = root.join("include/sherpa-onnx/c-api/c-api.h");
    let lib = root.join("lib");
    if !header.is_file() || !lib.join("libsherpa-onnx-c-api.so").is_file() {
        panic!(
            "sherpa-onnx {SHERPA_VERSION} for {arch} not found at {} (want include/sherpa-onnx/c-api/c-api.h and \
             lib/libsherpa-onnx-c-api.so): run `scripts/native-libs.sh --arch {arch}` or set SHERPA_LIB_PATH",
            root.display()
        );
    }
    println!("cargo:rerun-if-changed={}", header.display());
    println!("cargo:rustc-link-search=native={}", lib.display());
    println!("cargo:rustc-link-lib=dylib=sherpa-onnx-c-api");
    // For dependents' build scripts (DEP_SHERPA_ONNX_C_API_LIB_DIR): where the .so files are, to set an rpath.
    println!("cargo:lib_dir={}", lib.display());

    let target = env::var("TARGET").unwrap_or_default();
    let mut builder = bindgen::Builder::default()
        .header(header.to_string_lossy())
        .allowlist_function("Sherpa.*")
        .allowlist_type("Sherpa.*")
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()));
    if !target.is_empty() {
        builder = builder.clang_arg(format!("--target={target}"));
    }
    if arch == "aarch64" && env::var("HOST").map(|h| !h.starts_with("aarch64")).unwrap_or(true) {
        // The cross compiler's sysroot, for <stdint.h> and friends.
        builder = builder.clang_arg("--sysroot=/usr/aarch64-linux-gnu");
    }
    let bindings = builder.generate().unwrap_or_else(|e| panic!("bindgen on {}: {e}", header.display()));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("bindings.rs");
    bindings.write_to_file(&out).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}
