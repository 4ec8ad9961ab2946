//! Link settings for the `voice` and `vision` features; nothing for the other features.
//!
//! - piper-rs's bundled espeak-ng is built against the system's sonic (Debian `libsonic-dev`; otherwise its cmake
//!   would clone sonic from the network) but does not link it itself.
//! - sherpa-onnx's C API is a shared library from the PyPI wheel (patches/sherpa-rs-sys): the binary finds it through
//!   an rpath: `$ORIGIN/../lib/ojscog/sherpa` (the appliance image ships them there, apart from ort's own
//!   `libonnxruntime.so`, which sherpa's older one must not shadow) and, for development builds and tests, the
//!   unpacked wheel's directory itself.
//! - NCNN is a shared library built by scripts/build-ncnn.sh (patches/ncnn-bind): the image ships it in
//!   `/usr/lib/ojscog`; development builds find it in the build's prefix.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // A dependency's directory only in a native build: a cross-built binary runs elsewhere (the image's paths).
    let native = std::env::var("TARGET").ok() == std::env::var("HOST").ok();
    if std::env::var_os("CARGO_FEATURE_VISION").is_some() {
        println!("cargo:rustc-link-arg=-Wl,-rpath,$ORIGIN/../lib/ojscog");
        if let (true, Ok(dir)) = (native, std::env::var("DEP_NCNN_LIB_DIR")) {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        }
    }
    if std::env::var_os("CARGO_FEATURE_VOICE").is_none() {
        return;
    }
    println!("cargo:rustc-link-lib=sonic");
    println!("cargo:rustc-link-arg=-Wl,-rpath,$ORIGIN/../lib/ojscog/sherpa");
    if let (true, Ok(dir)) = (native, std::env::var("DEP_SHERPA_ONNX_C_API_LIB_DIR")) {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
