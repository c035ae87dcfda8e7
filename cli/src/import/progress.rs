//! Progress: a bar with rate and time left on a terminal; plain lines otherwise (a log,
//! a CI job), one every tenth of the way.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    /// `contacts` or `deals`.
    what: &'static str,
    total: u64,
    done: AtomicU64,
    started: Instant,
}

impl Progress {
    pub fn new(total: u64, what: &'static str) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total);
            let template =
                format!("{{bar:40}} {{pos}}/{{len}} {what} · {{per_sec}} · {{eta}} left {{msg}}");
            if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
                bar.set_style(style);
            }
            bar
        });
        Self {
            bar,
            what,
            total,
            done: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    pub fn tick(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        match &self.bar {
            Some(bar) => bar.inc(1),
            None => {
                let step = (self.total / 10).max(1);
                if done.is_multiple_of(step) || done == self.total {
                    let secs = self.started.elapsed().as_secs_f64().max(0.001);
                    let rate = done as f64 / secs;
                    let left = (self.total - done) as f64 / rate.max(0.001);
                    eprintln!(
                        "import: {done}/{} {} ({} %), {rate:.1}/s, about {left:.0} s left",
                        self.total,
                        self.what,
                        done * 100 / self.total.max(1)
                    );
                }
            }
        }
    }

    pub fn note(&self, message: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(message.to_owned()),
            None => eprintln!("import: {message}"),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
