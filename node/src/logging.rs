//! Logs through `tracing`, with Redis's `loglevel` names: `debug`, `verbose`, `notice` (the default,
//! readable at info level), `warning`, `nothing`. `CONFIG SET loglevel` changes the level at run time.

use std::sync::OnceLock;
use tracing_subscriber::{filter::LevelFilter, prelude::*, reload};

type Handle = reload::Handle<LevelFilter, tracing_subscriber::Registry>;
static HANDLE: OnceLock<Handle> = OnceLock::new();

fn level(loglevel: &str) -> LevelFilter {
    match loglevel {
        "debug" => LevelFilter::DEBUG,
        "verbose" | "notice" => LevelFilter::INFO,
        "warning" => LevelFilter::WARN,
        _ => LevelFilter::OFF,
    }
}

/// Starts logging to `logfile` (standard output when empty).
pub fn init(loglevel: &str, logfile: &str) -> Result<(), String> {
    let (filter, handle) = reload::Layer::new(level(loglevel));
    let fmt = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    if logfile.is_empty() {
        let _ = tracing_subscriber::registry().with(filter).with(fmt).try_init();
    } else {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(logfile)
            .map_err(|e| format!("can't open the log file '{logfile}': {e}"))?;
        let _ = tracing_subscriber::registry()
            .with(filter)
            .with(fmt.with_ansi(false).with_writer(std::sync::Mutex::new(file)))
            .try_init();
    }
    let _ = HANDLE.set(handle);
    Ok(())
}

pub fn set_level(loglevel: &str) {
    if let Some(h) = HANDLE.get() {
        let _ = h.modify(|f| *f = level(loglevel));
    }
}
