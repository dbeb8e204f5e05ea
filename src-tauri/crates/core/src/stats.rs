//! Library totals for `segue-cli stats` and the app's history screen.

use serde::Serialize;

use crate::Result;
use crate::sessions::{SessionRules, sessionize};
use crate::store::{Store, UserId};

/// Totals of the library (or of one user).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LibraryStats {
    /// Users with at least one listen.
    pub users: u64,
    /// Listens.
    pub listens: u64,
    /// Distinct tracks listened to.
    pub tracks: u64,
    /// Sessions formed by the gap rule, before the minimum-length filter.
    pub sessions_formed: u64,
    /// Sessions kept (at least `min_len` listens).
    pub sessions_kept: u64,
    /// Mean number of listens of a kept session.
    pub mean_session_length: f64,
    /// First listen (UTC seconds).
    pub first_listen: Option<i64>,
    /// Last listen (UTC seconds).
    pub last_listen: Option<i64>,
    /// The rules the sessions were formed with.
    pub rules: SessionRules,
}

/// Computes the totals under `rules`, for one user or everyone.
pub async fn library_stats(store: &Store, user: Option<UserId>, rules: SessionRules) -> Result<LibraryStats> {
    let listens = store.listens_in_order(user).await?;
    let sessions = sessionize(&listens, rules);
    let mut users: Vec<UserId> = listens.iter().map(|l| l.user).collect();
    users.dedup();
    let mut tracks: Vec<i64> = listens.iter().map(|l| l.track.0).collect();
    tracks.sort_unstable();
    tracks.dedup();
    let kept_listens: usize = sessions.kept.iter().map(|s| s.len()).sum();
    Ok(LibraryStats {
        users: users.len() as u64,
        listens: listens.len() as u64,
        tracks: tracks.len() as u64,
        sessions_formed: sessions.formed as u64,
        sessions_kept: sessions.kept.len() as u64,
        mean_session_length: if sessions.kept.is_empty() {
            0.0
        } else {
            kept_listens as f64 / sessions.kept.len() as f64
        },
        first_listen: listens.iter().map(|l| l.played_at).min(),
        last_listen: listens.iter().map(|l| l.played_at).max(),
        rules,
    })
}
