//! The vision models loaded from the model store onto NCNN (what checks pages)
//! or onto ONNX Runtime (the reference for the parity test and the benchmark).

use super::{Detectors, Tensor, VisionSettings, LAYOUT_MODEL, TEXT_MODEL};
use crate::inference::speech::{available_memory, memory_for};
use crate::inference::InferenceError;
use crate::models::{ModelStore, VerifiedModel};
use std::path::Path;

/// The layout model's blobs after pnnx: one input, four score and four box outputs.
const LAYOUT_OUTPUTS: [&str; 8] = [
    "out0", "out1", "out2", "out3", "out4", "out5", "out6", "out7",
];

fn verified(settings: &VisionSettings, name: &str) -> Result<VerifiedModel, InferenceError> {
    let m = ModelStore::resolve(&settings.data_dir, name)?.verified(name)?;
    for f in super::FILES {
        if m.file(f).is_none() {
            return Err(InferenceError::Load {
                model: name.into(),
                message: format!("its manifest has no {f}"),
            });
        }
    }
    Ok(m)
}

/// Both models verified, within the memory budget; and their identity (`name version sha256[..12]` each).
fn both(
    settings: &VisionSettings,
) -> Result<(VerifiedModel, VerifiedModel, String), InferenceError> {
    let layout = verified(settings, LAYOUT_MODEL)?;
    let text = verified(settings, TEXT_MODEL)?;
    let size = |m: &VerifiedModel| -> u64 { m.manifest().files.iter().map(|f| f.size).sum() };
    memory_for(
        LAYOUT_MODEL,
        size(&layout) + size(&text),
        available_memory(),
    )?;
    let id = [&layout, &text]
        .iter()
        .map(|m| {
            let sha = m.combined_sha256();
            format!(
                "{} {} {}",
                m.manifest().name,
                m.manifest().version,
                &sha[..12.min(sha.len())]
            )
        })
        .collect::<Vec<_>>()
        .join(" + ");
    Ok((layout, text, id))
}

struct Ncnn {
    layout: super::ncnn::Net,
    text: super::ncnn::Net,
}

impl Detectors for Ncnn {
    fn layout(&mut self, input: &[f32]) -> Result<Vec<Tensor>, InferenceError> {
        let (w, h) = super::detect::LAYOUT_INPUT;
        self.layout.run(input, 3, h, w)
    }
    fn text(&mut self, input: &[f32], h: usize, w: usize) -> Result<Tensor, InferenceError> {
        first(self.text.run(input, 3, h, w)?, TEXT_MODEL)
    }
}

fn first(mut v: Vec<Tensor>, model: &str) -> Result<Tensor, InferenceError> {
    if v.is_empty() {
        return Err(InferenceError::Run {
            model: model.into(),
            message: "no output".into(),
        });
    }
    Ok(v.swap_remove(0))
}

/// Both models on NCNN.
pub fn load_ncnn(
    settings: &VisionSettings,
) -> Result<(Box<dyn Detectors + Send>, String), InferenceError> {
    let (layout, text, id) = both(settings)?;
    let net = |m: &VerifiedModel, name: &str, outputs: &[&str]| {
        super::ncnn::Net::load(
            name,
            &m.path("model.ncnn.param"),
            &m.path("model.ncnn.bin"),
            settings.threads,
            "in0",
            outputs,
        )
    };
    let d = Ncnn {
        layout: net(&layout, LAYOUT_MODEL, &LAYOUT_OUTPUTS)?,
        text: net(&text, TEXT_MODEL, &["out0"])?,
    };
    layout.check_unchanged()?;
    text.check_unchanged()?;
    Ok((
        Box::new(d),
        format!("ncnn {}: {id}", super::ncnn::version()),
    ))
}

struct Onnx {
    layout: super::onnx::Session,
    text: super::onnx::Session,
}

impl Detectors for Onnx {
    fn layout(&mut self, input: &[f32]) -> Result<Vec<Tensor>, InferenceError> {
        let (w, h) = super::detect::LAYOUT_INPUT;
        self.layout.run(input, 3, h, w)
    }
    fn text(&mut self, input: &[f32], h: usize, w: usize) -> Result<Tensor, InferenceError> {
        first(self.text.run(input, 3, h, w)?, TEXT_MODEL)
    }
}

/// Both models' ONNX originals on ONNX Runtime (`ort_lib`): the reference.
pub fn load_onnx(
    settings: &VisionSettings,
    ort_lib: &Path,
) -> Result<(Box<dyn Detectors + Send>, String), InferenceError> {
    let (layout, text, id) = both(settings)?;
    let d = Onnx {
        layout: super::onnx::Session::load(
            LAYOUT_MODEL,
            &layout.path("model.onnx"),
            ort_lib,
            settings.threads,
        )?,
        text: super::onnx::Session::load(
            TEXT_MODEL,
            &text.path("model.onnx"),
            ort_lib,
            settings.threads,
        )?,
    };
    layout.check_unchanged()?;
    text.check_unchanged()?;
    Ok((Box::new(d), format!("onnxruntime: {id}")))
}
