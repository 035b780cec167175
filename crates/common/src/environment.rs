//! The trust boundary between the sandbox and production: every realm and every CA belongs to
//! exactly one environment, and nothing of one is trusted by the other.

use std::fmt;

/// Which side of the sandbox/production boundary a realm or a CA is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Environment {
    /// The sandbox: sandbox realms and the TEST CA hierarchies.
    Test,
    /// Production: production realms and the production CA hierarchies.
    Production,
}

impl Environment {
    /// The environment of a realm declared `sandbox = true` (Test) or not (Production).
    pub fn of_sandbox(sandbox: bool) -> Self {
        if sandbox {
            Self::Test
        } else {
            Self::Production
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Test => "sandbox (TEST)",
            Self::Production => "production",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_realms_are_test() {
        assert_eq!(Environment::of_sandbox(true), Environment::Test);
        assert_eq!(Environment::of_sandbox(false), Environment::Production);
        assert_eq!(Environment::Production.to_string(), "production");
    }
}
