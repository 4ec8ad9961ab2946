//! NCNN through `ncnn-rs` (the `vision` feature): one network from a verified
//! param/bin pair, run on a CHW float image. Only this file touches NCNN.
//!
//! fp32 throughout: NCNN's default fp16 storage and arithmetic (used on ARM
//! cores that have them) are switched off before the network is loaded,
//! because the text detector's activations come within a few times of fp16's
//! range; the network keeps no pool of buffers between runs. Outputs are read through the C API's extractor directly: ncnn-rs
//! 0.1.1's `Extractor::extract` writes the result into a copy of the handle
//! and returns an empty matrix.

use super::Tensor;
use crate::inference::InferenceError;
use ncnn_rs as ncnn;
use std::ffi::CString;

/// A loaded network. Not `Sync`: one worker thread owns it.
pub struct Net {
    net: ncnn::Net,
    /// Kept alive as long as the network that was configured with it.
    _option: ncnn::Option,
    model: String,
    input: CString,
    outputs: Vec<CString>,
}

// SAFETY: the network is only ever used from the one thread that owns it (moved into a worker once).
unsafe impl Send for Net {}

impl Net {
    /// Loads `param` and `bin` with `threads` threads; `input` and `outputs` are the blob names.
    pub fn load(
        model: &str,
        param: &std::path::Path,
        bin: &std::path::Path,
        threads: usize,
        input: &str,
        outputs: &[&str],
    ) -> Result<Net, InferenceError> {
        let err = |message: String| InferenceError::Load {
            model: model.to_string(),
            message,
        };
        let path = |p: &std::path::Path| {
            p.to_str()
                .map(str::to_string)
                .ok_or_else(|| err(format!("{} is not a UTF-8 path", p.display())))
        };
        let option = ncnn::Option::new();
        option.set_num_threads(threads.clamp(1, 8) as u32);
        // SAFETY: a valid option handle, before any network uses it.
        unsafe {
            ncnn::ncnn_option_set_use_fp16_packed(option.get(), 0);
            ncnn::ncnn_option_set_use_fp16_storage(option.get(), 0);
            ncnn::ncnn_option_set_use_fp16_arithmetic(option.get(), 0);
            ncnn::ncnn_option_set_use_vulkan_compute(option.get(), 0);
            // No pool allocator kept by the network: it keeps every buffer it ever handed out for reuse, so each
            // new page or figure shape added its activations to the process for good (30 mixed pages grew the
            // peak from 600 MiB to 1 GB). Freed buffers go back to the C heap, which the `Eye` trims.
            ncnn::ncnn_option_set_use_local_pool_allocator(option.get(), 0);
        }
        let net = ncnn::Net::new();
        net.set_option(&option);
        if net.load_param(&path(param)?) != 0 {
            return Err(err(format!("NCNN cannot read {}", param.display())));
        }
        if net.load_model(&path(bin)?) != 0 {
            return Err(err(format!("NCNN cannot read {}", bin.display())));
        }
        let cstr = |s: &str| CString::new(s).map_err(|_| err(format!("bad blob name {s:?}")));
        Ok(Net {
            net,
            _option: option,
            model: model.to_string(),
            input: cstr(input)?,
            outputs: outputs.iter().map(|o| cstr(o)).collect::<Result<_, _>>()?,
        })
    }

    /// Runs the network on one `c`×`h`×`w` image (channel-major floats); the outputs in the order they were named.
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
        if data.len() != c * h * w || c == 0 || h == 0 || w == 0 {
            return Err(err(format!(
                "input of {} floats is not {c}x{h}x{w}",
                data.len()
            )));
        }
        let (ci, hi, wi) = (to_i32(c)?, to_i32(h)?, to_i32(w)?);
        // SAFETY: every handle below is created here, checked for null, used on this thread and destroyed before
        // return; channel copies stay inside the matrix's channel (w*h floats, cstep >= w*h).
        unsafe {
            let input = ncnn::ncnn_mat_create_3d(wi, hi, ci, std::ptr::null_mut());
            if input.is_null() {
                return Err(err("NCNN could not allocate the input".into()));
            }
            for (ch, plane) in data.chunks_exact(w * h).enumerate() {
                let dst = ncnn::ncnn_mat_get_channel_data(input, ch as i32) as *mut f32;
                std::ptr::copy_nonoverlapping(plane.as_ptr(), dst, plane.len());
            }
            let ex = ncnn::ncnn_extractor_create(self.net.get());
            let mut result = Ok(Vec::with_capacity(self.outputs.len()));
            if ncnn::ncnn_extractor_input(ex, self.input.as_ptr(), input) != 0 {
                result = Err(err("NCNN refused the input".into()));
            }
            for name in &self.outputs {
                let Ok(out) = result.as_mut() else { break };
                let mut m: ncnn::ncnn_mat_t = std::ptr::null_mut();
                let rc = ncnn::ncnn_extractor_extract(ex, name.as_ptr(), &mut m);
                if rc != 0 || m.is_null() {
                    result = Err(err(format!("NCNN gave no {name:?} ({rc})")));
                    break;
                }
                let t = read(m);
                ncnn::ncnn_mat_destroy(m);
                match t {
                    Some(t) => out.push(t),
                    None => {
                        result = Err(err(format!("NCNN's {name:?} is not a plain float matrix")))
                    }
                }
            }
            ncnn::ncnn_extractor_destroy(ex);
            ncnn::ncnn_mat_destroy(input);
            result
        }
    }
}

fn to_i32(v: usize) -> Result<i32, InferenceError> {
    i32::try_from(v).map_err(|_| InferenceError::Run {
        model: "ncnn".into(),
        message: format!("dimension {v} too large"),
    })
}

/// A copy of an output matrix (elempack 1, fp32), as `[c, h, w]` without the matrix's channel padding.
///
/// # Safety
/// `m` is a valid matrix handle.
unsafe fn read(m: ncnn::ncnn_mat_t) -> Option<Tensor> {
    let (dims, w, h, c) = (
        ncnn::ncnn_mat_get_dims(m),
        ncnn::ncnn_mat_get_w(m),
        ncnn::ncnn_mat_get_h(m),
        ncnn::ncnn_mat_get_c(m),
    );
    if ncnn::ncnn_mat_get_elempack(m) != 1
        || ncnn::ncnn_mat_get_elemsize(m) != 4
        || !(1..=3).contains(&dims)
    {
        return None;
    }
    let (w, h, c) = (w.max(1) as usize, h.max(1) as usize, c.max(1) as usize);
    let mut data = Vec::with_capacity(w * h * c);
    for ch in 0..c {
        let p = ncnn::ncnn_mat_get_channel_data(m, ch as i32) as *const f32;
        if p.is_null() {
            return None;
        }
        data.extend_from_slice(std::slice::from_raw_parts(p, w * h));
    }
    Some(Tensor {
        data,
        shape: [c, h, w],
    })
}

/// NCNN's version string.
pub fn version() -> String {
    ncnn::version().to_string()
}
