//! A push button on a GPIO line, through the kernel's GPIO character device
//! (`/dev/gpiochipN`, uAPI v2; no sysfs, no library).
//!
//! The line is named in config as `CHIP:OFFSET` (`gpiochip0:17`,
//! `/dev/gpiochip4:17`) or by the line's own name (`GPIO17` on a Raspberry
//! Pi, searched on every chip). It is requested as an input with edge events
//! on presses only, a pull-up (or pull-down) bias and a debounce period: the
//! kernel timestamps and queues the presses, so nothing here polls a pin. A
//! button that pulls the line to ground when pressed is `active_low`.

use std::ffi::CStr;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum GpioError {
    #[error("GPIO button `{0}`: expected CHIP:OFFSET (gpiochip0:17) or a line name (GPIO17)")]
    Spec(String),
    #[error("GPIO chip {path}: {message}")]
    Chip { path: String, message: String },
    #[error("no GPIO line is named `{0}` on this machine's chips")]
    NoSuchLine(String),
    #[error("GPIO {chip} line {offset}: {message}")]
    Line {
        chip: String,
        offset: u32,
        message: String,
    },
}

const GPIO_MAX_NAME_SIZE: usize = 32;
const GPIO_V2_LINES_MAX: usize = 64;
const GPIO_V2_LINE_NUM_ATTRS_MAX: usize = 10;

const FLAG_ACTIVE_LOW: u64 = 1 << 1;
const FLAG_INPUT: u64 = 1 << 2;
const FLAG_EDGE_RISING: u64 = 1 << 4;
const FLAG_BIAS_PULL_UP: u64 = 1 << 8;
const FLAG_BIAS_PULL_DOWN: u64 = 1 << 9;
const ATTR_ID_DEBOUNCE: u32 = 3;
const EVENT_RISING_EDGE: u32 = 1;

#[repr(C)]
struct ChipInfo {
    name: [u8; GPIO_MAX_NAME_SIZE],
    label: [u8; GPIO_MAX_NAME_SIZE],
    lines: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct LineAttribute {
    id: u32,
    padding: u32,
    /// flags, values or (low 32 bits) debounce_period_us.
    value: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct LineConfigAttribute {
    attr: LineAttribute,
    mask: u64,
}

#[repr(C)]
struct LineConfig {
    flags: u64,
    num_attrs: u32,
    padding: [u32; 5],
    attrs: [LineConfigAttribute; GPIO_V2_LINE_NUM_ATTRS_MAX],
}

#[repr(C)]
struct LineRequest {
    offsets: [u32; GPIO_V2_LINES_MAX],
    consumer: [u8; GPIO_MAX_NAME_SIZE],
    config: LineConfig,
    num_lines: u32,
    event_buffer_size: u32,
    padding: [u32; 5],
    fd: i32,
}

#[repr(C)]
struct LineInfo {
    name: [u8; GPIO_MAX_NAME_SIZE],
    consumer: [u8; GPIO_MAX_NAME_SIZE],
    offset: u32,
    num_attrs: u32,
    flags: u64,
    attrs: [LineAttribute; GPIO_V2_LINE_NUM_ATTRS_MAX],
    padding: [u32; 4],
}

#[repr(C)]
struct LineEvent {
    timestamp_ns: u64,
    id: u32,
    offset: u32,
    seqno: u32,
    line_seqno: u32,
    padding: [u32; 6],
}

nix::ioctl_read!(gpio_get_chipinfo, 0xB4, 0x01, ChipInfo);
nix::ioctl_readwrite!(gpio_v2_get_lineinfo, 0xB4, 0x05, LineInfo);
nix::ioctl_readwrite!(gpio_v2_get_line, 0xB4, 0x07, LineRequest);

/// Where the button is, as config says it.
#[derive(Debug, Clone, PartialEq)]
pub enum LineSpec {
    /// A chip (`/dev/gpiochip0`) and the line's offset on it.
    Offset { chip: PathBuf, offset: u32 },
    /// A line name, looked up on every chip.
    Name(String),
}

impl LineSpec {
    pub fn parse(s: &str) -> Result<LineSpec, GpioError> {
        let s = s.trim();
        let bad = || GpioError::Spec(s.to_string());
        if let Some((chip, offset)) = s.rsplit_once(':') {
            let offset: u32 = offset.trim().parse().map_err(|_| bad())?;
            let chip = chip.trim();
            let chip = if chip.starts_with('/') {
                PathBuf::from(chip)
            } else if chip.starts_with("gpiochip") && !chip.contains('/') {
                Path::new("/dev").join(chip)
            } else {
                return Err(bad());
            };
            return Ok(LineSpec::Offset { chip, offset });
        }
        let name_ok = !s.is_empty()
            && s.len() < GPIO_MAX_NAME_SIZE
            && s.chars().all(|c| c.is_ascii_graphic());
        if name_ok {
            Ok(LineSpec::Name(s.to_string()))
        } else {
            Err(bad())
        }
    }
}

/// A press, as the kernel stamped it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Press {
    /// CLOCK_MONOTONIC nanoseconds.
    pub timestamp_ns: u64,
    /// Presses on this line since it was requested.
    pub seqno: u32,
}

/// A requested button line: its presses arrive as kernel events.
pub struct Button {
    fd: OwnedFd,
    chip: String,
    offset: u32,
}

impl Button {
    /// Requests the line as an input that reports presses, debounced by `debounce`.
    pub fn open(
        spec: &LineSpec,
        active_low: bool,
        debounce: Duration,
    ) -> Result<Button, GpioError> {
        let (chip, offset) = match spec {
            LineSpec::Offset { chip, offset } => (chip.clone(), *offset),
            LineSpec::Name(name) => find_line(name)?,
        };
        let path = chip.display().to_string();
        let chip_file = open_chip(&chip)?;
        let info = chip_info(&chip_file, &path)?;
        let line_err = |message: String| GpioError::Line {
            chip: path.clone(),
            offset,
            message,
        };
        if offset >= info.lines {
            return Err(line_err(format!(
                "this chip ({}) has lines 0..{}",
                cstr(&info.label),
                info.lines.saturating_sub(1)
            )));
        }
        // SAFETY: an all-zero LineRequest is its documented empty value.
        let mut req: LineRequest = unsafe { std::mem::zeroed() };
        req.offsets[0] = offset;
        req.num_lines = 1;
        req.event_buffer_size = 16;
        let consumer = b"ojscog-voice-button";
        req.consumer[..consumer.len()].copy_from_slice(consumer);
        let bias = if active_low {
            FLAG_BIAS_PULL_UP
        } else {
            FLAG_BIAS_PULL_DOWN
        };
        req.config.flags =
            FLAG_INPUT | FLAG_EDGE_RISING | bias | if active_low { FLAG_ACTIVE_LOW } else { 0 };
        let debounce_us = u32::try_from(debounce.as_micros()).unwrap_or(u32::MAX);
        if debounce_us > 0 {
            req.config.num_attrs = 1;
            req.config.attrs[0] = LineConfigAttribute {
                attr: LineAttribute {
                    id: ATTR_ID_DEBOUNCE,
                    padding: 0,
                    value: u64::from(debounce_us),
                },
                mask: 1,
            };
        }
        // SAFETY: the request is a valid gpio_v2_line_request the kernel fills in.
        if let Err(e) = unsafe { gpio_v2_get_line(chip_file.as_raw_fd(), &mut req) } {
            let why = match e {
                nix::errno::Errno::EBUSY => {
                    let owner = line_info(&chip_file, offset)
                        .map(|i| cstr(&i.consumer))
                        .unwrap_or_default();
                    format!("the line is in use by `{owner}`")
                }
                other => other.desc().to_string(),
            };
            return Err(line_err(why));
        }
        if req.fd < 0 {
            return Err(line_err("the kernel returned no line".into()));
        }
        // SAFETY: the kernel handed us this new descriptor; nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(req.fd) };
        Ok(Button {
            fd,
            chip: path,
            offset,
        })
    }

    /// `gpiochip0:17`, for logs.
    pub fn describe(&self) -> String {
        format!("{}:{}", self.chip, self.offset)
    }

    /// Waits up to `timeout` for the next press.
    pub fn wait_press(&mut self, timeout: Duration) -> Result<Option<Press>, GpioError> {
        loop {
            let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
            if !self.readable(ms)? {
                return Ok(None);
            }
            match self.read_event()? {
                Some(p) => return Ok(Some(p)),
                None => continue,
            }
        }
    }

    /// Throws away presses that queued up (while an answer was being spoken); returns how many.
    pub fn drain(&mut self) -> Result<usize, GpioError> {
        let mut n = 0;
        while self.readable(0)? {
            if self.read_event()?.is_some() {
                n += 1;
            }
        }
        Ok(n)
    }

    fn readable(&self, timeout_ms: i32) -> Result<bool, GpioError> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                return Ok(false);
            }
            return Err(self.err(e.to_string()));
        }
        Ok(r > 0 && pfd.revents & libc::POLLIN != 0)
    }

    /// One event; `None` for an event that is not a press.
    fn read_event(&mut self) -> Result<Option<Press>, GpioError> {
        let mut buf = [0u8; std::mem::size_of::<LineEvent>()];
        // SAFETY: reads at most buf.len() bytes into buf from our own descriptor.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            return Err(self.err(std::io::Error::last_os_error().to_string()));
        }
        if n as usize != buf.len() {
            return Err(self.err(format!("short event read ({n} bytes)")));
        }
        // SAFETY: the buffer holds one whole gpio_v2_line_event; read_unaligned copes with the byte array.
        let ev: LineEvent = unsafe { std::ptr::read_unaligned(buf.as_ptr().cast()) };
        Ok(
            (ev.id == EVENT_RISING_EDGE && ev.offset == self.offset).then_some(Press {
                timestamp_ns: ev.timestamp_ns,
                seqno: ev.line_seqno,
            }),
        )
    }

    fn err(&self, message: String) -> GpioError {
        GpioError::Line {
            chip: self.chip.clone(),
            offset: self.offset,
            message,
        }
    }
}

fn open_chip(chip: &Path) -> Result<File, GpioError> {
    File::open(chip).map_err(|e| GpioError::Chip {
        path: chip.display().to_string(),
        message: e.to_string(),
    })
}

fn chip_info(f: &File, path: &str) -> Result<ChipInfo, GpioError> {
    // SAFETY: zeroed is a valid gpiochip_info; the kernel fills it.
    let mut info: ChipInfo = unsafe { std::mem::zeroed() };
    // SAFETY: the ioctl writes one gpiochip_info.
    unsafe { gpio_get_chipinfo(f.as_raw_fd(), &mut info) }.map_err(|e| GpioError::Chip {
        path: path.to_string(),
        // ENOSYS: an emulator (qemu-user) that does not pass the ioctl on; the kernel says ENOTTY.
        message: if matches!(e, nix::errno::Errno::ENOTTY | nix::errno::Errno::ENOSYS) {
            "not a GPIO chip".to_string()
        } else {
            e.desc().to_string()
        },
    })?;
    Ok(info)
}

fn line_info(f: &File, offset: u32) -> Result<LineInfo, nix::errno::Errno> {
    // SAFETY: zeroed is a valid gpio_v2_line_info with the offset to ask about.
    let mut info: LineInfo = unsafe { std::mem::zeroed() };
    info.offset = offset;
    // SAFETY: the ioctl fills one gpio_v2_line_info.
    unsafe { gpio_v2_get_lineinfo(f.as_raw_fd(), &mut info) }?;
    Ok(info)
}

/// The chip and offset of the line called `name`, on any `/dev/gpiochip*`.
fn find_line(name: &str) -> Result<(PathBuf, u32), GpioError> {
    let mut chips: Vec<PathBuf> = std::fs::read_dir("/dev")
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("gpiochip"))
                })
                .collect()
        })
        .unwrap_or_default();
    chips.sort();
    for chip in chips {
        let path = chip.display().to_string();
        let Ok(f) = open_chip(&chip) else { continue };
        let Ok(info) = chip_info(&f, &path) else {
            continue;
        };
        for offset in 0..info.lines {
            if line_info(&f, offset).is_ok_and(|l| cstr(&l.name) == name) {
                return Ok((chip, offset));
            }
        }
    }
    Err(GpioError::NoSuchLine(name.to_string()))
}

fn cstr(b: &[u8]) -> String {
    CStr::from_bytes_until_nul(b)
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_else(|_| String::from_utf8_lossy(b).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_structs_have_the_kernels_sizes() {
        // linux/gpio.h: the ioctl numbers encode these sizes, so a wrong layout is EINVAL/ENOTTY on a real chip.
        assert_eq!(std::mem::size_of::<ChipInfo>(), 68);
        assert_eq!(std::mem::size_of::<LineAttribute>(), 16);
        assert_eq!(std::mem::size_of::<LineConfig>(), 272);
        assert_eq!(std::mem::size_of::<LineRequest>(), 592);
        assert_eq!(std::mem::size_of::<LineInfo>(), 256);
        assert_eq!(std::mem::size_of::<LineEvent>(), 48);
    }

    #[test]
    fn a_line_is_named_by_chip_and_offset_or_by_its_name() {
        assert_eq!(
            LineSpec::parse("gpiochip0:17").ok(),
            Some(LineSpec::Offset {
                chip: "/dev/gpiochip0".into(),
                offset: 17
            })
        );
        assert_eq!(
            LineSpec::parse("/dev/gpiochip4:3").ok(),
            Some(LineSpec::Offset {
                chip: "/dev/gpiochip4".into(),
                offset: 3
            })
        );
        assert_eq!(
            LineSpec::parse("GPIO17").ok(),
            Some(LineSpec::Name("GPIO17".into()))
        );
        for bad in [
            "",
            "gpiochip0:",
            "gpiochip0:x",
            "chip/../0:1",
            "tty0:3",
            "a name",
        ] {
            assert!(LineSpec::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn a_missing_chip_or_a_file_that_is_no_chip_is_a_clear_error() {
        let missing = LineSpec::parse("gpiochip97:1").unwrap();
        let e = Button::open(&missing, true, Duration::from_millis(20))
            .err()
            .map(|e| e.to_string());
        assert!(
            e.as_deref()
                .is_some_and(|e| e.contains("/dev/gpiochip97") && e.contains("No such file")),
            "{e:?}"
        );
        let not_a_chip = LineSpec::parse("/dev/null:1").unwrap();
        let e = Button::open(&not_a_chip, true, Duration::from_millis(20))
            .err()
            .map(|e| e.to_string());
        assert!(
            e.as_deref().is_some_and(|e| e.contains("not a GPIO chip")),
            "{e:?}"
        );
        let e = Button::open(
            &LineSpec::Name("NO_SUCH_LINE_X".into()),
            true,
            Duration::ZERO,
        )
        .err()
        .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("no GPIO line is named `NO_SUCH_LINE_X` on this machine's chips")
        );
    }
}
