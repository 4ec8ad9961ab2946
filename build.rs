//! Link settings for the `voice` feature; nothing for the other features.
//!
//! - piper-rs's bundled espeak-ng is built against the system's sonic (Debian `libsonic-dev`; otherwise its cmake
//!   would clone sonic from the network) but does not link it itself.
//! - sherpa-onnx's C API is a shared library from the PyPI wheel (patches/sherpa-rs-sys): the binary finds it through
//!   an rpath: `$ORIGIN/../lib/ojscog/sherpa` (the appliance image ships them there, apart from ort's own
//!   `libonnxruntime.so`, which sherpa's older one must not shadow) and, for development builds and tests, the
//!   unpacked wheel's directory itself.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_VOICE").is_none() {
        return;
    }
    println!("cargo:rustc-link-lib=sonic");
    println!("cargo:rustc-link-arg=-Wl,-rpath,$ORIGIN/../lib/ojscog/sherpa");
    // The wheel's directory only in a native build: a cross-built binary runs elsewhere (the image's path).
    let native = std::env::var("TARGET").ok() == std::env::var("HOST").ok();
    if let (true, Ok(dir)) = (native, std::env::var("DEP_SHERPA_ONNX_C_API_LIB_DIR")) {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
