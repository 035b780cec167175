//! Authentication context classes: the eIDAS levels PSC uses, as an order.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An eIDAS assurance level. `Eidas1 < Eidas2 < Eidas3`: a request for `eidas1` is satisfied
/// by any higher level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Acr {
    /// Low.
    #[serde(rename = "eidas1")]
    Eidas1,
    /// Substantial.
    #[serde(rename = "eidas2")]
    Eidas2,
    /// High.
    #[serde(rename = "eidas3")]
    Eidas3,
}

impl Acr {
    /// All levels, lowest first.
    pub const ALL: [Acr; 3] = [Acr::Eidas1, Acr::Eidas2, Acr::Eidas3];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Acr::Eidas1 => "eidas1",
            Acr::Eidas2 => "eidas2",
            Acr::Eidas3 => "eidas3",
        }
    }

    /// Parses a wire name; unknown values give `None`.
    pub fn parse(s: &str) -> Option<Acr> {
        match s {
            "eidas1" => Some(Acr::Eidas1),
            "eidas2" => Some(Acr::Eidas2),
            "eidas3" => Some(Acr::Eidas3),
            _ => None,
        }
    }

    /// The minimum level asked for by an `acr_values` list: the lowest known value in it,
    /// since any one of the listed values satisfies the request. Unknown values are ignored.
    pub fn minimum_of(acr_values: &str) -> Option<Acr> {
        acr_values.split(' ').filter_map(Acr::parse).min()
    }
}

impl fmt::Display for Acr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_ordered() {
        assert!(Acr::Eidas1 < Acr::Eidas2 && Acr::Eidas2 < Acr::Eidas3);
        assert_eq!(Acr::minimum_of("eidas3 eidas2"), Some(Acr::Eidas2));
        assert_eq!(Acr::minimum_of("foo eidas3"), Some(Acr::Eidas3));
        assert_eq!(Acr::minimum_of("1 2"), None);
    }
}
