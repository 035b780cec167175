#[path = "it/support/mod.rs"]
mod support;
#[path = "it/conformance_config.rs"]
mod conformance_config;
#[path = "it/negative.rs"]
mod negative;
