//! Every tracing event of the test process, captured as text for assertions on what was
//! (and was not) logged.
//!
//! The subscriber is installed as the global default, once, before any event of the
//! process: a thread-local `set_default` races with other threads' first events, which
//! can register a callsite with a stale "not interested" answer. The buffer is shared by
//! every test of a binary, so such tests hold [`SERIAL`] while they capture.

use std::io;
use std::sync::{Mutex, Once};

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// Held by each test that captures: they share the buffer.
pub(crate) static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct CaptureWriter;

impl io::Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        LOGS.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber (TRACE and above) on first use, and empties the
/// buffer.
pub(crate) fn start_capture() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_target(true)
            .with_writer(|| CaptureWriter)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
    });
    LOGS.lock().expect("log buffer").clear();
}

/// What every event wrote since the last [`start_capture`].
pub(crate) fn logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().expect("log buffer")).into_owned()
}
