//! Sessions and the paper's train/test split.
//!
//! A session is a run of one user's listens with no gap of `gap` or more
//! between consecutive listens (a gap of exactly `gap` starts a new session).
//! Sessions shorter than `min_len` are dropped *after* they are formed, so a
//! short burst never glues two long sessions together. The split then counts
//! kept sessions only: per user, in time order, the first
//! `min(⌊0.7·n⌋, n−1)` train and the rest test; a user with one session is
//! train only.

use serde::{Deserialize, Serialize};

use crate::store::{ListenRow, TrackId, UserId};

/// How listens become sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionRules {
    /// A pause of at least this many seconds ends a session.
    pub gap_secs: i64,
    /// Sessions with fewer tracks are dropped.
    pub min_len: usize,
}

impl Default for SessionRules {
    fn default() -> Self {
        SessionRules {
            gap_secs: 2 * 60 * 60,
            min_len: 5,
        }
    }
}

/// One listening session of one user, in time order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    /// Whose session it is.
    pub user: UserId,
    /// Start of the first listen (UTC seconds).
    pub start: i64,
    /// Start of the last listen (UTC seconds).
    pub end: i64,
    /// The tracks, in play order.
    pub tracks: Vec<TrackId>,
}

impl Session {
    /// Number of listens in the session.
    pub fn len(&self) -> usize {
        self.tracks.len()
    }

    /// Whether the session has no listens (never true for formed sessions).
    pub fn is_empty(&self) -> bool {
        self.tracks.is_empty()
    }
}

/// The result of sessionizing a history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sessions {
    /// Sessions with at least `min_len` listens, ordered by user then time.
    pub kept: Vec<Session>,
    /// How many sessions were formed before the minimum-length filter.
    pub formed: usize,
}

/// Cuts listens into sessions.
///
/// `listens` must be ordered by (user, played_at), as
/// [`crate::Store::listens_in_order`] returns them.
pub fn sessionize(listens: &[ListenRow], rules: SessionRules) -> Sessions {
    let mut sessions = Sessions::default();
    let mut current: Option<Session> = None;
    for listen in listens {
        match current.as_mut() {
            Some(session)
                if session.user == listen.user && listen.played_at - session.end < rules.gap_secs =>
            {
                session.end = listen.played_at;
                session.tracks.push(listen.track);
            }
            _ => {
                if let Some(done) = current.take() {
                    close(&mut sessions, done, rules);
                }
                current = Some(Session {
                    user: listen.user,
                    start: listen.played_at,
                    end: listen.played_at,
                    tracks: vec![listen.track],
                });
            }
        }
    }
    if let Some(done) = current {
        close(&mut sessions, done, rules);
    }
    sessions
}

fn close(sessions: &mut Sessions, session: Session, rules: SessionRules) {
    sessions.formed += 1;
    if session.len() >= rules.min_len {
        sessions.kept.push(session);
    }
}

/// The paper's per-user split of kept sessions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Split {
    /// The earlier sessions of every user.
    pub train: Vec<Session>,
    /// The later sessions of every user.
    pub test: Vec<Session>,
}

/// How many of a user's `n` kept sessions train: `min(⌊fraction·n⌋, n−1)`,
/// except that a user with a single session trains on it.
pub fn train_count(n: usize, train_fraction: f64) -> usize {
    match n {
        0 => 0,
        1 => 1,
        // Truncation is the paper's floor; n is far below 2^52.
        _ => ((train_fraction * n as f64).floor() as usize).min(n - 1),
    }
}

/// Splits kept sessions per user: the first `train_count` of each user's
/// sessions (in time order) train, the rest test.
///
/// `sessions` must be grouped by user and time-ordered within a user, as
/// [`sessionize`] returns them.
pub fn split_per_user(sessions: &[Session], train_fraction: f64) -> Split {
    let mut split = Split::default();
    for user_sessions in sessions.chunk_by(|a, b| a.user == b.user) {
        let train = train_count(user_sessions.len(), train_fraction);
        split.train.extend_from_slice(&user_sessions[..train]);
        split.test.extend_from_slice(&user_sessions[train..]);
    }
    split
}

/// The paper's train fraction.
pub const PAPER_TRAIN_FRACTION: f64 = 0.7;
