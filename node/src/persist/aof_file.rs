//! (being written: stub with the agreed API)
#![allow(unused)]
use std::path::{Path, PathBuf};
pub fn encode_command(out: &mut Vec<u8>, argv: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", argv.len()).as_bytes());
    for a in argv {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}
pub fn seal_batch(out: &mut Vec<u8>, batch_start: usize) {}
#[derive(Debug)]
pub struct LoadError {
    pub file: PathBuf,
    pub offset: u64,
    pub reason: String,
}
impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at offset {}: {}", self.file.display(), self.offset, self.reason)
    }
}
pub struct ReplayStats {
    pub commands: u64,
    pub bytes: u64,
    pub truncated_at: Option<u64>,
}
pub fn replay(
    path: &Path,
    load_truncated: bool,
    progress: &mut dyn FnMut(u64),
    apply: &mut dyn FnMut(&[&[u8]]) -> Result<(), String>,
) -> Result<ReplayStats, LoadError> {
    Err(LoadError { file: path.into(), offset: 0, reason: "stub".into() })
}
pub fn check_cli(args: &[String]) -> std::process::ExitCode {
    std::process::ExitCode::FAILURE
}
