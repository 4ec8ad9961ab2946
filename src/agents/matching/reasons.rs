//! Why a reviewer got their score or was excluded: typed codes, serialized as
//! the snake_case names the API has always shown.

use serde::{Deserialize, Serialize};

/// What a [`Reason`] is about; serialized as its snake_case name
/// (`"closest_work"`), as the API has always shown it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    Expertise,
    ClosestWork,
    Interests,
    InterestMeaning,
    NoProfile,
    Workload,
    AtCapacity,
    Declines,
    Slow,
    Responsive,
    Author,
    Coauthor,
    SameAffiliation,
    Assigned,
    DeclinedThis,
    Disabled,
}

impl ReasonCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::Expertise => "expertise",
            ReasonCode::ClosestWork => "closest_work",
            ReasonCode::Interests => "interests",
            ReasonCode::InterestMeaning => "interest_meaning",
            ReasonCode::NoProfile => "no_profile",
            ReasonCode::Workload => "workload",
            ReasonCode::AtCapacity => "at_capacity",
            ReasonCode::Declines => "declines",
            ReasonCode::Slow => "slow",
            ReasonCode::Responsive => "responsive",
            ReasonCode::Author => "author",
            ReasonCode::Coauthor => "coauthor",
            ReasonCode::SameAffiliation => "same_affiliation",
            ReasonCode::Assigned => "assigned",
            ReasonCode::DeclinedThis => "declined_this",
            ReasonCode::Disabled => "disabled",
        }
    }

    /// A conflict of interest or unavailability that excludes the reviewer.
    pub fn excludes(self) -> bool {
        matches!(
            self,
            ReasonCode::Author
                | ReasonCode::Coauthor
                | ReasonCode::SameAffiliation
                | ReasonCode::Assigned
                | ReasonCode::DeclinedThis
                | ReasonCode::Disabled
        )
    }

    /// A factor the score was multiplied by (its `effect`).
    pub fn is_factor(self) -> bool {
        matches!(
            self,
            ReasonCode::Workload | ReasonCode::AtCapacity | ReasonCode::Declines | ReasonCode::Slow
        )
    }
}

/// Why a reviewer got their score or was excluded. `effect` is the factor the
/// score was multiplied by (workload etc.), or the value of a component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub code: ReasonCode,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<f64>,
}

pub(super) fn reason(code: ReasonCode, text: String, effect: Option<f64>) -> Reason {
    Reason {
        code,
        text,
        effect: effect.map(r4),
    }
}

/// Six decimals: the expertise and score, so strong matches do not tie.
pub(super) fn r6(x: f64) -> f64 {
    if x.is_finite() {
        (x * 1e6).round() / 1e6
    } else {
        0.0
    }
}

/// Four decimals: enough to rank, and exact through the JSON cache.
pub(super) fn r4(x: f64) -> f64 {
    if x.is_finite() {
        (x * 1e4).round() / 1e4
    } else {
        0.0
    }
}
