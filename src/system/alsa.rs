//! Sound through ALSA: a microphone's 16-bit mono capture and a speaker's
//! playback, by PCM name (`default`, `plughw:1,0`, or any PCM of the ALSA
//! configuration).
//!
//! `libasound.so.2` is opened at run time (dlopen), not linked: a box or a
//! build without ALSA still runs, and says "ALSA is not installed" only when a
//! microphone is configured. Only the handful of calls below are used; ALSA's
//! `plug` layer converts rate and channels where a device needs it.

use std::ffi::{c_char, c_int, c_long, c_uint, c_ulong, c_void, CStr, CString};
use std::sync::OnceLock;

#[derive(Debug, thiserror::Error)]
pub enum AlsaError {
    #[error("ALSA is not installed on this machine (libasound.so.2: {0})")]
    NotInstalled(String),
    #[error("cannot open sound device `{device}`: {message}")]
    Open { device: String, message: String },
    #[error("sound device `{device}`: {message}")]
    Io { device: String, message: String },
}

type OpenFn = unsafe extern "C" fn(*mut *mut c_void, *const c_char, c_int, c_int) -> c_int;
type SetParamsFn =
    unsafe extern "C" fn(*mut c_void, c_int, c_int, c_uint, c_uint, c_int, c_uint) -> c_int;
type ReadFn = unsafe extern "C" fn(*mut c_void, *mut c_void, c_ulong) -> c_long;
type WriteFn = unsafe extern "C" fn(*mut c_void, *const c_void, c_ulong) -> c_long;
type RecoverFn = unsafe extern "C" fn(*mut c_void, c_int, c_int) -> c_int;
type PcmFn = unsafe extern "C" fn(*mut c_void) -> c_int;
type StrErrorFn = unsafe extern "C" fn(c_int) -> *const c_char;

struct Lib {
    open: OpenFn,
    set_params: SetParamsFn,
    readi: ReadFn,
    writei: WriteFn,
    recover: RecoverFn,
    drain: PcmFn,
    close: PcmFn,
    strerror: StrErrorFn,
}

const SND_PCM_STREAM_PLAYBACK: c_int = 0;
const SND_PCM_STREAM_CAPTURE: c_int = 1;
const SND_PCM_FORMAT_S16_LE: c_int = 2;
const SND_PCM_ACCESS_RW_INTERLEAVED: c_int = 3;

fn lib() -> Result<&'static Lib, AlsaError> {
    static LIB: OnceLock<Result<Lib, String>> = OnceLock::new();
    LIB.get_or_init(|| unsafe {
        let name = c"libasound.so.2";
        let h = libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
        if h.is_null() {
            let e = libc::dlerror();
            return Err(if e.is_null() {
                "cannot be loaded".to_string()
            } else {
                CStr::from_ptr(e).to_string_lossy().into_owned()
            });
        }
        let sym = |n: &CStr| -> Result<*mut c_void, String> {
            let p = libc::dlsym(h, n.as_ptr());
            if p.is_null() {
                Err(format!("no symbol {}", n.to_string_lossy()))
            } else {
                Ok(p)
            }
        };
        // SAFETY: each symbol has the C signature of ALSA's public API (alsa/pcm.h, alsa/error.h).
        Ok(Lib {
            open: std::mem::transmute::<*mut c_void, OpenFn>(sym(c"snd_pcm_open")?),
            set_params: std::mem::transmute::<*mut c_void, SetParamsFn>(sym(
                c"snd_pcm_set_params",
            )?),
            readi: std::mem::transmute::<*mut c_void, ReadFn>(sym(c"snd_pcm_readi")?),
            writei: std::mem::transmute::<*mut c_void, WriteFn>(sym(c"snd_pcm_writei")?),
            recover: std::mem::transmute::<*mut c_void, RecoverFn>(sym(c"snd_pcm_recover")?),
            drain: std::mem::transmute::<*mut c_void, PcmFn>(sym(c"snd_pcm_drain")?),
            close: std::mem::transmute::<*mut c_void, PcmFn>(sym(c"snd_pcm_close")?),
            strerror: std::mem::transmute::<*mut c_void, StrErrorFn>(sym(c"snd_strerror")?),
        })
    })
    .as_ref()
    .map_err(|e| AlsaError::NotInstalled(e.clone()))
}

/// An open PCM, 16-bit mono at one rate; closed when dropped.
pub struct Pcm {
    lib: &'static Lib,
    pcm: *mut c_void,
    device: String,
    pub rate: u32,
}

// The handle is used by one thread at a time (it is moved, never shared).
unsafe impl Send for Pcm {}

impl Pcm {
    /// A capture (microphone) PCM.
    pub fn capture(device: &str, rate: u32) -> Result<Pcm, AlsaError> {
        Pcm::open(device, rate, SND_PCM_STREAM_CAPTURE)
    }

    /// A playback (speaker) PCM.
    pub fn playback(device: &str, rate: u32) -> Result<Pcm, AlsaError> {
        Pcm::open(device, rate, SND_PCM_STREAM_PLAYBACK)
    }

    fn open(device: &str, rate: u32, stream: c_int) -> Result<Pcm, AlsaError> {
        let lib = lib()?;
        let open_error = |message: String| AlsaError::Open {
            device: device.to_string(),
            message,
        };
        let name =
            CString::new(device).map_err(|_| open_error("the name has a NUL byte".into()))?;
        let mut pcm: *mut c_void = std::ptr::null_mut();
        let rc = unsafe { (lib.open)(&mut pcm, name.as_ptr(), stream, 0) };
        if rc < 0 || pcm.is_null() {
            return Err(open_error(strerror(lib, rc)));
        }
        let p = Pcm {
            lib,
            pcm,
            device: device.to_string(),
            rate,
        };
        // 16-bit mono, ALSA resampling allowed, 100 ms of latency.
        let rc = unsafe {
            (lib.set_params)(
                pcm,
                SND_PCM_FORMAT_S16_LE,
                SND_PCM_ACCESS_RW_INTERLEAVED,
                1,
                rate,
                1,
                100_000,
            )
        };
        if rc < 0 {
            return Err(open_error(strerror(lib, rc)));
        }
        Ok(p)
    }

    fn io_error(&self, rc: c_long) -> AlsaError {
        AlsaError::Io {
            device: self.device.clone(),
            message: strerror(self.lib, rc as c_int),
        }
    }

    /// Reads up to `buf.len()` frames (blocking); returns how many were read. An overrun is recovered once.
    pub fn read(&mut self, buf: &mut [i16]) -> Result<usize, AlsaError> {
        for _ in 0..2 {
            let n = unsafe {
                (self.lib.readi)(self.pcm, buf.as_mut_ptr().cast(), buf.len() as c_ulong)
            };
            if n >= 0 {
                return Ok(n as usize);
            }
            if unsafe { (self.lib.recover)(self.pcm, n as c_int, 1) } < 0 {
                return Err(self.io_error(n));
            }
        }
        Err(AlsaError::Io {
            device: self.device.clone(),
            message: "the device keeps failing".into(),
        })
    }

    /// Plays all of `samples` and waits until they are out.
    pub fn write_all(&mut self, mut samples: &[i16]) -> Result<(), AlsaError> {
        let mut failures = 0;
        while !samples.is_empty() {
            let n = unsafe {
                (self.lib.writei)(self.pcm, samples.as_ptr().cast(), samples.len() as c_ulong)
            };
            if n < 0 {
                failures += 1;
                if failures > 3 || unsafe { (self.lib.recover)(self.pcm, n as c_int, 1) } < 0 {
                    return Err(self.io_error(n));
                }
                continue;
            }
            samples = &samples[(n as usize).min(samples.len())..];
        }
        unsafe { (self.lib.drain)(self.pcm) };
        Ok(())
    }
}

impl Drop for Pcm {
    fn drop(&mut self) {
        unsafe { (self.lib.close)(self.pcm) };
    }
}

fn strerror(lib: &Lib, rc: c_int) -> String {
    let p = unsafe { (lib.strerror)(rc) };
    if p.is_null() {
        format!("error {rc}")
    } else {
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_device_that_does_not_exist_is_a_clear_error() {
        match super::Pcm::capture("no-such-pcm-ojscog", 16000) {
            Err(e) => {
                let e = e.to_string();
                assert!(
                    e.contains("no-such-pcm-ojscog") || e.contains("ALSA is not installed"),
                    "{e}"
                );
            }
            Ok(_) => panic!("opened a PCM that does not exist"),
        }
    }
}
