//! Bindings to sherpa-onnx's C API, generated at build time from the header of the library that is linked
//! (see this crate's Cargo.toml for why this replaces crates.io's sherpa-rs-sys).
#![allow(non_upper_case_globals)]
#![allow(non_camel_case_types)]
#![allow(non_snake_case)]
#![allow(clippy::all)]

include!(concat!(env!("OUT_DIR"), "/bindings.rs"));
