//! Files the appliance's own scripts write for the service to show: the A/B
//! root-slot states (`ojscog-slot status --json` → `web.slots_file`). Read
//! here, typed, so views only render; reading never changes them.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The largest slots file read (it is a few hundred bytes).
const MAX_BYTES: u64 = 64 * 1024;

/// What `ojscog-slot` reports of the root slots.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Slots {
    pub booted: String,
    pub primary: String,
    #[serde(default)]
    pub slots: BTreeMap<String, Slot>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Slot {
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub tries_left: Option<i64>,
    #[serde(default)]
    pub version: String,
}

impl Slots {
    /// The slots file, or `None` when there is none (not an appliance) or it
    /// cannot be read as one (logged).
    pub fn read(path: &Path) -> Option<Slots> {
        use std::io::Read;
        let file = std::fs::File::open(path).ok()?;
        let mut text = String::new();
        if let Err(e) = file.take(MAX_BYTES).read_to_string(&mut text) {
            tracing::warn!(path = %path.display(), error = %e, "cannot read the slots file");
            return None;
        }
        match serde_json::from_str(&text) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "the slots file is not valid");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_ojscog_slot_writes_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("slots.json");
        assert_eq!(Slots::read(&p), None, "no file: not an appliance");
        std::fs::write(
            &p,
            r#"{"booted":"B","primary":"B","order":"B A","updated":1,
                "slots":{"A":{"device":"/dev/vda2","state":"bad","tries_left":0,"confirmed":false,"booted":false,"version":"0.1.0"}}}"#,
        )
        .unwrap();
        let s = Slots::read(&p).unwrap();
        assert_eq!(s.booted, "B");
        assert_eq!(s.slots["A"].tries_left, Some(0));
        std::fs::write(&p, "{not json").unwrap();
        assert_eq!(Slots::read(&p), None);
    }
}
