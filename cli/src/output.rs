//! How results reach the user: human text on stdout by default, one JSON document with `--json`;
//! progress bars on stderr only when it is a terminal and the output is for humans.

use crate::error::{Failure, Res};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Out {
    pub json: bool,
    /// Print nothing on stdout (a command run as a step of another).
    pub quiet: bool,
}

impl Out {
    pub fn new(json: bool) -> Out {
        Out { json, quiet: false }
    }

    /// The same, but silent on stdout.
    pub fn quiet(&self) -> Out {
        Out { json: self.json, quiet: true }
    }

    /// A line for humans (nothing in `--json` mode).
    pub fn line(&self, text: impl AsRef<str>) {
        if !self.json && !self.quiet {
            // A closed pipe (`slotkv check | head`) is not worth a panic.
            let _ = writeln!(std::io::stdout().lock(), "{}", text.as_ref());
        }
    }

    /// The one JSON document of a command (nothing in human mode).
    pub fn doc(&self, value: &serde_json::Value) {
        if self.json && !self.quiet {
            let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into());
            let _ = writeln!(std::io::stdout().lock(), "{text}");
        }
    }

    /// A warning, on stderr in both modes.
    pub fn warn(&self, text: impl AsRef<str>) {
        eprintln!("warning: {}", text.as_ref());
    }

    fn bars_shown(&self) -> bool {
        !self.json && std::io::stderr().is_terminal()
    }

    /// A bar of `len` keys with keys/s and ETA (hidden when not on a terminal or in `--json` mode).
    pub fn key_bar(&self, len: u64) -> ProgressBar {
        if !self.bars_shown() {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(len);
        let style = ProgressStyle::with_template(
            "{bar:30.cyan/blue} {human_pos}/{human_len} keys  {per_sec}  ETA {eta}  {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    }

    /// A spinner for a wait (hidden like the bars).
    pub fn spinner(&self, msg: &str) -> ProgressBar {
        if !self.bars_shown() {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new_spinner();
        bar.set_message(msg.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }

    /// Asks to go ahead unless `yes`: the answer must be `yes`, as redis-cli asks.
    pub fn confirm(&self, question: &str, yes: bool) -> Res<()> {
        if yes {
            return Ok(());
        }
        eprint!("{question} (type 'yes' to accept): ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        match answer.trim() {
            "yes" => Ok(()),
            "" => Err(Failure::Problem(
                "no answer on standard input: nothing done (--yes skips the question)".into(),
            )),
            _ => Err(Failure::Problem("not confirmed: nothing done".into())),
        }
    }
}
