//! Progress on stderr: one line per resource with its action and the time it
//! took, and a spinner that says why while something waits. On a terminal the
//! lines are indicatif spinners; otherwise (logs, CI) each finished step is
//! one plain line and each distinct wait one more, with no control characters.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Where progress goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Spinners,
    Lines,
    Silent,
}

/// The progress display of one command.
#[derive(Debug)]
pub struct Progress {
    mode: Mode,
    multi: MultiProgress,
}

impl Progress {
    /// Spinners when stderr is a terminal, plain lines otherwise: in a
    /// pipe, a file, and in CI, whose runners may give a job a terminal that
    /// its log cannot redraw (`CI` is set by GitHub Actions, GitLab CI,
    /// CircleCI, Travis, Buildkite...), or a `TERM=dumb` one.
    pub fn stderr() -> Progress {
        let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0");
        let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        let mode = if std::io::stderr().is_terminal() && !ci && !dumb { Mode::Spinners } else { Mode::Lines };
        Progress { mode, multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()) }
    }

    /// No output at all.
    pub fn silent() -> Progress {
        Progress { mode: Mode::Silent, multi: MultiProgress::with_draw_target(ProgressDrawTarget::hidden()) }
    }

    /// Starts a step, e.g. `creating` `Lambda function wschat-dev-chat`.
    pub fn task(&self, doing: &str, label: &str) -> Task {
        let bar = (self.mode == Mode::Spinners).then(|| {
            let bar = self.multi.add(ProgressBar::new_spinner());
            bar.set_style(ProgressStyle::with_template("{spinner} {msg} {elapsed:.dim}").expect("valid template"));
            bar.set_message(format!("{doing} {label}"));
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Task {
            bar,
            lines: self.mode == Mode::Lines,
            doing: doing.to_string(),
            label: label.to_string(),
            started: Instant::now(),
            last_wait: Mutex::new(None),
        }
    }

    /// A line of text between the steps.
    pub fn println(&self, line: &str) {
        match self.mode {
            Mode::Spinners => {
                let _ = self.multi.println(line);
            }
            Mode::Lines => eprintln!("{line}"),
            Mode::Silent => {}
        }
    }
}

/// One step in progress.
#[derive(Debug)]
pub struct Task {
    bar: Option<ProgressBar>,
    lines: bool,
    doing: String,
    label: String,
    started: Instant,
    last_wait: Mutex<Option<String>>,
}

impl Task {
    /// A task that shows nothing (for reads outside a command's progress).
    pub fn hidden() -> Task {
        Task {
            bar: None,
            lines: false,
            doing: String::new(),
            label: String::new(),
            started: Instant::now(),
            last_wait: Mutex::new(None),
        }
    }

    /// Says why the step waits (IAM propagation, Lambda Pending...).
    pub fn waiting(&self, why: &str) {
        let mut last = self.last_wait.lock().expect("progress lock poisoned");
        if last.as_deref() == Some(why) {
            return;
        }
        *last = Some(why.to_string());
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{} {}: {why}", self.doing, self.label));
        } else if self.lines {
            eprintln!("  … {}: {why}", self.label);
        }
    }

    /// A note that stays on screen: something the user should know about this
    /// step that is not a failure (a change AWS only allows later, say).
    pub fn note(&self, line: &str) {
        if let Some(bar) = &self.bar {
            bar.println(format!("note: {line}"));
        } else if self.lines {
            eprintln!("note: {line}");
        }
    }

    /// Says why the step waits, unless a more specific reason is showing.
    pub fn waiting_unless_said(&self, why: &str) {
        let said = self.last_wait.lock().expect("progress lock poisoned").is_some();
        if !said {
            self.waiting(why);
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Ends the step: `✓ created  Lambda function wschat-dev-chat  1.2s`.
    pub fn finish(&self, done: &str) {
        self.end("✓", done, |bar, line| bar.finish_with_message(line));
    }

    /// Ends the step as failed; the error itself is reported at the end.
    pub fn fail(&self) {
        self.end("✗", "failed", |bar, line| bar.abandon_with_message(line));
    }

    /// Leaves the step's last line: the spinner's, marked and closed by
    /// `close` (finished or abandoned), or a plain line without the mark.
    fn end(&self, mark: &str, done: &str, close: impl FnOnce(&ProgressBar, String)) {
        let secs = self.elapsed().as_secs_f64();
        if let Some(bar) = &self.bar {
            bar.set_style(ProgressStyle::with_template("{msg}").expect("valid template"));
            close(bar, format!("{mark} {done:<9} {}  {secs:.1}s", self.label));
        } else if self.lines {
            eprintln!("{done:<9} {} ({secs:.1}s)", self.label);
        }
    }

    /// Removes a spinner without leaving a line (for steps that did nothing).
    pub fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
