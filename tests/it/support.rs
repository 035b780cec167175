//! Re-export of the test harness crate, so tests keep `crate::support::…` paths.
pub use coeur_testkit::*;
