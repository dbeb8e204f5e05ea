//! Sessionization and the paper's split: exact cases and property tests.

use proptest::prelude::*;
use segue_core::sessions::{Session, SessionRules, sessionize, split_per_user, train_count};
use segue_core::store::ListenRow;
use segue_core::{TrackId, UserId};

fn listen(user: i64, played_at: i64, track: i64) -> ListenRow {
    ListenRow {
        user: UserId(user),
        played_at,
        track: TrackId(track),
    }
}

const HOUR: i64 = 3600;

#[test]
fn a_gap_of_exactly_the_limit_starts_a_new_session() {
    let rules = SessionRules {
        gap_secs: 2 * HOUR,
        min_len: 1,
    };
    let listens = [
        listen(1, 0, 1),
        listen(1, 2 * HOUR - 1, 2),
        listen(1, 4 * HOUR - 1, 3),
    ];
    let sessions = sessionize(&listens, rules);
    let lengths: Vec<usize> = sessions.kept.iter().map(Session::len).collect();
    assert_eq!(lengths, [2, 1]);
}

#[test]
fn short_sessions_are_dropped_after_they_are_formed() {
    let rules = SessionRules {
        gap_secs: 2 * HOUR,
        min_len: 3,
    };
    // Two long sessions separated by a short burst: the burst must not glue them.
    let listens = [
        listen(1, 0, 1),
        listen(1, 60, 2),
        listen(1, 120, 3),
        listen(1, 3 * HOUR, 4),
        listen(1, 6 * HOUR, 5),
        listen(1, 6 * HOUR + 60, 6),
        listen(1, 6 * HOUR + 120, 7),
    ];
    let sessions = sessionize(&listens, rules);
    assert_eq!(sessions.formed, 3);
    assert_eq!(sessions.kept.len(), 2);
    assert_eq!(sessions.kept[1].tracks, [TrackId(5), TrackId(6), TrackId(7)]);
}

#[test]
fn users_never_share_a_session() {
    let rules = SessionRules {
        gap_secs: 2 * HOUR,
        min_len: 1,
    };
    let sessions = sessionize(&[listen(1, 0, 1), listen(2, 10, 1)], rules);
    assert_eq!(sessions.kept.len(), 2);
}

#[test]
fn train_counts_follow_the_paper_with_at_least_one_test_session() {
    assert_eq!(train_count(0, 0.7), 0);
    assert_eq!(train_count(1, 0.7), 1);
    assert_eq!(train_count(2, 0.7), 1);
    assert_eq!(train_count(3, 0.7), 2);
    assert_eq!(train_count(10, 0.7), 7);
    assert_eq!(train_count(11, 0.7), 7);
}

/// Histories of a few users: per user, sorted times with gaps from seconds to days.
fn histories() -> impl Strategy<Value = Vec<ListenRow>> {
    prop::collection::vec(
        (1i64..4, prop::collection::vec((0i64..3 * HOUR, 1i64..20), 0..40)),
        1..4,
    )
    .prop_map(|users| {
        let mut listens = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for (user, steps) in users {
            if !seen.insert(user) {
                continue;
            }
            let mut time = 1_000_000;
            for (step, track) in steps {
                time += step;
                listens.push(listen(user, time, track));
            }
        }
        listens.sort_by_key(|l| (l.user, l.played_at, l.track));
        listens
    })
}

proptest! {
    #[test]
    fn sessions_partition_the_history(listens in histories(), gap in 1i64..4 * HOUR, min_len in 1usize..6) {
        let rules = SessionRules { gap_secs: gap, min_len };
        let all = sessionize(&listens, SessionRules { gap_secs: gap, min_len: 1 });
        // With no minimum, sessions are exactly the history, in order.
        let flattened: Vec<TrackId> = all.kept.iter().flat_map(|s| s.tracks.clone()).collect();
        prop_assert_eq!(flattened, listens.iter().map(|l| l.track).collect::<Vec<_>>());
        prop_assert_eq!(all.formed, all.kept.len());
        for pair in all.kept.windows(2) {
            if pair[0].user == pair[1].user {
                prop_assert!(pair[1].start - pair[0].end >= gap);
            }
        }
        for session in &all.kept {
            prop_assert!(session.start <= session.end);
        }
        // The filter keeps exactly the long sessions, and forms the same ones.
        let filtered = sessionize(&listens, rules);
        prop_assert_eq!(filtered.formed, all.formed);
        let long: Vec<&Session> = all.kept.iter().filter(|s| s.len() >= min_len).collect();
        prop_assert_eq!(filtered.kept.iter().collect::<Vec<_>>(), long);
    }

    #[test]
    fn the_split_keeps_time_order_and_a_test_session_per_user(listens in histories(), min_len in 1usize..4) {
        let sessions = sessionize(&listens, SessionRules { gap_secs: HOUR, min_len }).kept;
        let split = split_per_user(&sessions, 0.7);
        prop_assert_eq!(split.train.len() + split.test.len(), sessions.len());
        let users: std::collections::BTreeSet<UserId> = sessions.iter().map(|s| s.user).collect();
        for user in users {
            let n = sessions.iter().filter(|s| s.user == user).count();
            let train: Vec<&Session> = split.train.iter().filter(|s| s.user == user).collect();
            let test: Vec<&Session> = split.test.iter().filter(|s| s.user == user).collect();
            prop_assert_eq!(train.len(), train_count(n, 0.7));
            if n >= 2 {
                prop_assert!(!test.is_empty());
            } else {
                prop_assert!(test.is_empty());
            }
            if let (Some(last_train), Some(first_test)) = (train.last(), test.first()) {
                prop_assert!(last_train.end < first_test.start);
            }
        }
    }
}
