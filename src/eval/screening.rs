//! Measured agreement of the screening report with hand labels
//! (`benches/data/screening-labels.json`): for each labelled submission, the
//! model's three checkable judgements — methods, results and conclusions
//! stated in the abstract — against a person's reading of the same title and
//! abstract. Reported per judgement as raw agreement and Cohen's kappa (the
//! agreement beyond what two raters with these base rates reach by chance),
//! so that a model answering "yes" to everything does not look good.

use super::{read, EvalError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The judgements that have a right answer a person can check.
pub const FIELDS: [&str; 3] = ["methods_stated", "results_stated", "conclusions_stated"];

/// One submission's three labels (or the model's three answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Stated {
    pub methods_stated: bool,
    pub results_stated: bool,
    pub conclusions_stated: bool,
}

impl Stated {
    fn get(&self, field: &str) -> bool {
        match field {
            "methods_stated" => self.methods_stated,
            "results_stated" => self.results_stated,
            _ => self.conclusions_stated,
        }
    }
}

/// The labels file: sets by name (`demo`, `ojs-3.4.0-4`), each submission id → labels.
#[derive(Debug, Clone, Deserialize)]
pub struct Labels {
    pub about: String,
    pub criteria: BTreeMap<String, String>,
    pub sets: BTreeMap<String, BTreeMap<String, Stated>>,
}

impl Labels {
    pub fn load(path: &Path) -> Result<Labels, EvalError> {
        let text = read(path)?;
        let labels: Labels = serde_json::from_str(&text).map_err(|e| EvalError::Format {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        for (name, set) in &labels.sets {
            if let Some(bad) = set.keys().find(|k| k.parse::<i64>().is_err()) {
                return Err(EvalError::Format {
                    path: path.to_path_buf(),
                    message: format!("set {name}: {bad:?} is not a submission id"),
                });
            }
        }
        Ok(labels)
    }

    /// One set's (submission id, labels), in id order.
    pub fn set(&self, name: &str) -> Option<Vec<(i64, Stated)>> {
        let set = self.sets.get(name)?;
        let mut v: Vec<(i64, Stated)> = set
            .iter()
            .filter_map(|(k, s)| Some((k.parse().ok()?, *s)))
            .collect();
        v.sort_by_key(|(id, _)| *id);
        Some(v)
    }
}

/// Agreement on one judgement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldAgreement {
    pub field: String,
    pub n: usize,
    pub agree: usize,
    /// Share of submissions where the model says what the label says.
    pub agreement: f64,
    /// Cohen's kappa; None when it is undefined (both raters constant and equal).
    pub kappa: Option<f64>,
    /// How often the label / the model says "stated".
    pub label_yes: usize,
    pub model_yes: usize,
}

/// Per judgement, over the pairs (label, model answer).
pub fn agreement(pairs: &[(Stated, Stated)]) -> Vec<FieldAgreement> {
    FIELDS
        .iter()
        .map(|&field| {
            let n = pairs.len();
            let (mut agree, mut label_yes, mut model_yes) = (0, 0, 0);
            for (label, model) in pairs {
                let (l, m) = (label.get(field), model.get(field));
                agree += usize::from(l == m);
                label_yes += usize::from(l);
                model_yes += usize::from(m);
            }
            let nf = n.max(1) as f64;
            let po = agree as f64 / nf;
            let (pl, pm) = (label_yes as f64 / nf, model_yes as f64 / nf);
            let pe = pl * pm + (1.0 - pl) * (1.0 - pm);
            let kappa = ((1.0 - pe).abs() > 1e-12).then(|| (po - pe) / (1.0 - pe));
            FieldAgreement {
                field: field.to_string(),
                n,
                agree,
                agreement: po,
                kappa,
                label_yes,
                model_yes,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(m: bool, r: bool, c: bool) -> Stated {
        Stated {
            methods_stated: m,
            results_stated: r,
            conclusions_stated: c,
        }
    }

    #[test]
    fn a_model_that_always_says_yes_gets_no_credit_beyond_chance() {
        let labels = [
            s(true, true, true),
            s(true, false, false),
            s(false, true, false),
            s(true, true, true),
        ];
        let pairs: Vec<_> = labels.iter().map(|l| (*l, s(true, true, true))).collect();
        let a = agreement(&pairs);
        assert_eq!(a[0].agree, 3);
        assert!((a[0].agreement - 0.75).abs() < 1e-9);
        // Model constant "yes": expected agreement equals the observed one, kappa 0.
        assert!(a[0].kappa.unwrap().abs() < 1e-9, "{:?}", a[0]);
        assert_eq!(a[2].label_yes, 2);
        assert_eq!(a[2].model_yes, 4);
    }

    #[test]
    fn perfect_agreement_is_kappa_one_and_the_opposite_is_minus_one() {
        let labels = [s(true, false, true), s(false, true, false)];
        let same: Vec<_> = labels.iter().map(|l| (*l, *l)).collect();
        for f in agreement(&same) {
            assert_eq!(f.kappa, Some(1.0), "{f:?}");
        }
        let flipped: Vec<_> = labels
            .iter()
            .map(|l| {
                (
                    *l,
                    s(!l.methods_stated, !l.results_stated, !l.conclusions_stated),
                )
            })
            .collect();
        for f in agreement(&flipped) {
            assert!((f.kappa.unwrap() + 1.0).abs() < 1e-9, "{f:?}");
        }
    }

    #[test]
    fn kappa_is_undefined_when_both_raters_say_the_same_thing_throughout() {
        let pairs = [(s(true, true, true), s(true, true, true)); 3];
        assert_eq!(agreement(&pairs)[0].kappa, None);
    }

    #[test]
    fn the_shipped_labels_load_and_name_their_sets() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/data/screening-labels.json");
        let labels = Labels::load(&path).unwrap();
        assert_eq!(labels.set("demo").unwrap().len(), 12);
        assert_eq!(labels.set("ojs-3.4.0-4").unwrap().len(), 19);
        assert_eq!(labels.criteria.len(), 3);
    }
}
