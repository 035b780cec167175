//! The servers' logs, as tests see them: `COEUR_TEST_LOG=<filter>` shows them in failing
//! tests' output, and what coeur says at info level about refused clients, back-channel
//! logout deliveries, e-CPS and e-mail and SMS deliveries (lettre's included) is kept in
//! memory for tests to read ([`captured`]). One subscriber for the whole test binary: servers
//! of every test write to it, so a test looks for its own client ids.

use std::sync::{Mutex, Once};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

/// The targets kept in memory.
const CAPTURED: &[&str] = &[
    "coeur_provider::client_auth",
    "coeur_provider::backchannel",
    "coeur_provider::delivery",
    "coeur_provider::ecps",
    "lettre",
];

static LINES: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LINES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the test binary's subscriber (once).
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let targets = CAPTURED
            .iter()
            .fold(Targets::new(), |t, c| t.with_target(*c, LevelFilter::INFO));
        let capture = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(|| Capture)
            .with_filter(targets);
        let shown = std::env::var("COEUR_TEST_LOG").ok().map(|filter| {
            tracing_subscriber::fmt::layer()
                .with_test_writer()
                .with_filter(tracing_subscriber::EnvFilter::new(filter))
        });
        let _ = tracing_subscriber::registry()
            .with(capture)
            .with(shown)
            .try_init();
    });
}

/// Everything captured so far, one event a line.
pub fn captured() -> String {
    String::from_utf8_lossy(&LINES.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}
