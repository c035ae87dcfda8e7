use crm_domain::import::Reject;

/// What became of one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Created,
    /// An existing contact, its empty fields filled.
    Updated,
    /// An existing contact with nothing empty to fill.
    Unchanged,
    /// Notion refused the row (a value it does not take); the reason in words.
    Rejected(String),
    /// Not written this time (Notion or the store unavailable): the same command again
    /// picks it up.
    Failed(String),
    /// Another run holds this person's claim: a live one, or one that was stopped, whose
    /// claim runs out after its lease.
    Busy,
    /// Written by an earlier run of the same file.
    Earlier(Box<Outcome>),
}

impl Outcome {
    /// What the claim records, so a rerun can report it.
    pub fn record(&self) -> String {
        match self {
            Self::Created => "created".into(),
            Self::Updated => "updated".into(),
            Self::Unchanged => "unchanged".into(),
            Self::Rejected(why) => format!("rejected:{why}"),
            Self::Failed(why) => format!("failed:{why}"),
            Self::Busy => "busy".into(),
            Self::Earlier(o) => o.record(),
        }
    }

    pub fn earlier(record: Option<&str>) -> Self {
        let inner = match record.unwrap_or_default() {
            "created" => Self::Created,
            "updated" => Self::Updated,
            "unchanged" => Self::Unchanged,
            r => match r.split_once(':') {
                Some(("rejected", why)) => Self::Rejected(why.to_owned()),
                _ => Self::Unchanged,
            },
        };
        Self::Earlier(Box::new(inner))
    }
}

/// The run's totals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Rows Notion refused, each line of the person with the reason.
    pub rejected: Vec<Reject>,
    /// People or deals not written this time, as they may be shown (an address
    /// redacted, a deal's name), with the reason: run again.
    pub failed: Vec<(String, String)>,
    /// The keys of those another run held (see [`Outcome::Busy`]): a person's address,
    /// a deal's key.
    pub busy: Vec<String>,
    /// Those an earlier run of the same file wrote (not counted as created, updated or
    /// unchanged by this one).
    pub earlier: usize,
}

impl Report {
    /// Adds another pass's totals (over people this one left busy).
    pub fn merge(&mut self, more: Report) {
        self.created += more.created;
        self.updated += more.updated;
        self.unchanged += more.unchanged;
        self.earlier += more.earlier;
        self.rejected.extend(more.rejected);
        self.failed.extend(more.failed);
        self.busy = more.busy;
    }

    /// Counts one unit's outcome: a person's or a deal's, known by `key`, shown as
    /// `shown`, from the file's `lines`.
    pub fn add(&mut self, key: &str, shown: &str, lines: &[u64], outcome: Outcome) {
        let outcome = match outcome {
            // Counted as the earlier run's; only its refusal is kept again, so the
            // rejects file stays whole.
            Outcome::Earlier(inner) => {
                self.earlier += 1;
                match *inner {
                    Outcome::Rejected(reason) => Outcome::Rejected(reason),
                    _ => return,
                }
            }
            o => o,
        };
        match outcome {
            Outcome::Created => self.created += 1,
            Outcome::Updated => self.updated += 1,
            Outcome::Unchanged => self.unchanged += 1,
            Outcome::Rejected(reason) => self.rejected.extend(lines.iter().map(|&line| Reject {
                line,
                reason: reason.clone(),
            })),
            Outcome::Failed(reason) => self.failed.push((shown.to_owned(), reason)),
            Outcome::Busy => self.busy.push(key.to_owned()),
            Outcome::Earlier(_) => {}
        }
    }
}
