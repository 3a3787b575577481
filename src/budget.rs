//! The compute budget a worker may spend: a plain value shared by the settings,
//! the tools' arguments and the API's request body. A leaf.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Compute budget the worker may spend on a task.
/// Ordered from the cheapest: a ceiling compares budgets.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Budget {
    Low,
    Standard,
    High,
    Unlimited,
}

impl Budget {
    pub const ALL: [Budget; 4] = [
        Budget::Low,
        Budget::Standard,
        Budget::High,
        Budget::Unlimited,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Budget::Low => "low",
            Budget::Standard => "standard",
            Budget::High => "high",
            Budget::Unlimited => "unlimited",
        }
    }
}

impl std::str::FromStr for Budget {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Budget::ALL
            .into_iter()
            .find(|b| b.as_str() == s)
            .ok_or_else(|| format!("unknown budget {s:?}; use low, standard, high or unlimited"))
    }
}

/// The budgets as clap's possible values (help, completions).
impl clap::ValueEnum for Budget {
    fn value_variants<'a>() -> &'a [Self] {
        &Budget::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.as_str()))
    }
}
