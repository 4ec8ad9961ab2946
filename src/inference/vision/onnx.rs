//! The same detectors on ONNX Runtime (`ort`), from the ONNX files the vision
//! models keep beside their NCNN pair: the reference NCNN is checked against
//! (a test) and compared with (a benchmark). Not used to check pages.

use super::Tensor;
use crate::inference::InferenceError;
use std::path::Path;

pub struct Session {
    session: ort::session::Session,
    model: String,
}

impl Session {
    /// Loads `onnx` with `threads` intra-op threads, on the process's ONNX Runtime (`lib`).
    pub fn load(
        model: &str,
        onnx: &Path,
        lib: &Path,
        threads: usize,
    ) -> Result<Session, InferenceError> {
        crate::inference::embed::init_ort(lib)?;
        let session = crate::inference::embed::ort_session(onnx, threads).map_err(|message| {
            InferenceError::Load {
                model: model.to_string(),
                message,
            }
        })?;
        Ok(Session {
            session,
            model: model.to_string(),
        })
    }

    /// Runs on one `c`×`h`×`w` image (a batch of one); every output, in the model's order, without the batch axis.
    pub fn run(
        &mut self,
        data: &[f32],
        c: usize,
        h: usize,
        w: usize,
    ) -> Result<Vec<Tensor>, InferenceError> {
        let err = |message: String| InferenceError::Run {
            model: self.model.clone(),
            message,
        };
        let input = ort::value::Tensor::from_array(([1usize, c, h, w], data.to_vec()))
            .map_err(|e| err(e.to_string()))?;
        let name = self
            .session
            .inputs()
            .first()
            .map(|i| i.name().to_string())
            .ok_or_else(|| err("the model has no input".into()))?;
        let outputs = self
            .session
            .run(ort::inputs![name => input])
            .map_err(|e| err(e.to_string()))?;
        let mut out = Vec::new();
        for (_, v) in outputs.iter() {
            let (shape, data) = v
                .try_extract_tensor::<f32>()
                .map_err(|e| err(e.to_string()))?;
            // [1, N, K] -> [1, N, K]; [1, 1, H, W] -> [1, H, W]: drop the batch axis, pad to three.
            let dims: Vec<usize> = shape.iter().skip(1).map(|d| (*d).max(1) as usize).collect();
            let mut s = [1usize; 3];
            for (i, d) in dims.iter().rev().take(3).enumerate() {
                s[2 - i] = *d;
            }
            out.push(Tensor {
                data: data.to_vec(),
                shape: s,
            });
        }
        Ok(out)
    }
}
