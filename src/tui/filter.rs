//! The task list's filter: which rows show (`f` cycles), and its name on screen.

/// Which task-list rows show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    All,
    NeedsYou,
    Running,
    Waiting,
    Problems,
    Deferred,
    Finished,
}

impl Filter {
    pub fn next(self) -> Self {
        match self {
            Filter::All => Filter::NeedsYou,
            Filter::NeedsYou => Filter::Running,
            Filter::Running => Filter::Waiting,
            Filter::Waiting => Filter::Problems,
            Filter::Problems => Filter::Deferred,
            Filter::Deferred => Filter::Finished,
            Filter::Finished => Filter::All,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Filter::All => "all",
            Filter::NeedsYou => "needs you",
            Filter::Running => "running",
            Filter::Waiting => "waiting",
            Filter::Problems => "failed",
            Filter::Deferred => "deferred",
            Filter::Finished => "finished",
        }
    }
}
