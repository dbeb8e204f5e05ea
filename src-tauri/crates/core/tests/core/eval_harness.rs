//! The evaluation harness on a tiny library whose split, vocabulary and
//! examples are counted by hand.

use segue_core::eval::{EvalOptions, build_dataset, read_user_groups, run_eval};
use segue_core::models::ModelSpec;
use segue_core::progress::NoProgress;
use segue_core::sessions::SessionRules;

use crate::helpers::TestLibrary;

const HOUR: i64 = 3600;

/// Writes a Last.fm-1K file: `sessions` is per user a list of sessions of track numbers.
fn write_history(path: &std::path::Path, users: &[(&str, &[&[u32]])]) {
    let mut rows = Vec::new();
    for (user, sessions) in users {
        let mut time = 1_300_000_000i64;
        for session in *sessions {
            for track in *session {
                let stamp = iso(time);
                rows.push(format!("{user}\t{stamp}\t\tArtist\t\tTrack {track}"));
                time += 180;
            }
            time += 5 * HOUR;
        }
    }
    std::fs::write(path, rows.join("\n") + "\n").unwrap();
}

fn iso(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[tokio::test]
async fn the_split_vocabulary_and_examples_follow_the_protocol() {
    let library = TestLibrary::new().await;
    let path = library.dir.path().join("four_and_one_sessions.tsv");
    let a_sessions: &[&[u32]] = &[
        &[1, 2, 3, 4, 5],
        &[2, 3, 4, 5, 6],
        &[1, 2, 9, 3, 4],
        &[7, 8, 2, 3, 4],
    ];
    let b_sessions: &[&[u32]] = &[&[1, 1, 2, 2, 3]];
    write_history(&path, &[("user_a", a_sessions), ("user_b", b_sessions)]);
    library.import(&path).await.unwrap();

    let dataset = build_dataset(&library.store, SessionRules::default(), None)
        .await
        .unwrap();
    // user_a: 4 sessions → min(⌊2.8⌋, 3) = 2 train, 2 test; user_b: 1 train.
    assert_eq!(dataset.train.len(), 3);
    assert_eq!(dataset.test.len(), 2);
    // Tracks of the training sessions: 1..=6.
    assert_eq!(dataset.num_items(), 6);
    // Positions 1..5 of two test sessions.
    assert_eq!(dataset.examples.len(), 8);
    let unseen = dataset.examples.iter().filter(|e| e.target.is_none()).count();
    // Track 9 (once), tracks 7 and 8 (once each; 7 only as the first item, never a target).
    assert_eq!(unseen, 2);
    // Session [7, 8, 2, 3, 4]: predicting 8 and 2 has an empty input after filtering.
    let empty = dataset.examples.iter().filter(|e| e.history.is_empty()).count();
    assert_eq!(empty, 2);

    let options = EvalOptions {
        models: vec![
            ModelSpec::Pop,
            ModelSpec::Markov,
            ModelSpec::W2vKnn,
            ModelSpec::PersonalPop,
        ],
        ..EvalOptions::default()
    };
    let table = run_eval(&library.store, &dataset, &options, &NoProgress)
        .await
        .unwrap();
    let names: Vec<&str> = table.rows.iter().map(|r| r.model.as_str()).collect();
    assert_eq!(names, ["pop", "markov", "w2v-knn", "personal-pop"]);
    for row in &table.rows {
        assert_eq!(row.metrics.predictions, 8);
        assert_eq!(row.metrics.unseen_targets, 2);
        assert_eq!(row.metrics.empty_inputs, 2);
        assert!(
            row.metrics.hr20 <= 6.0 / 8.0 + 1e-12,
            "{}: {:?}",
            row.model,
            row.metrics
        );
    }
    // With 6 items every seen target is within the top 20.
    let pop = &table.rows[0].metrics;
    assert!((pop.hr20 - 6.0 / 8.0).abs() < 1e-12);
    // Markov: after 2 comes 3 in every training session, after 3 comes 4.
    let markov = &table.rows[1].metrics;
    assert!(markov.hr1 >= 3.0 / 8.0, "{markov:?}");
}

#[tokio::test]
async fn an_empty_library_says_why_it_cannot_be_evaluated() {
    let library = TestLibrary::new().await;
    let error = build_dataset(&library.store, SessionRules::default(), None)
        .await
        .unwrap_err();
    assert_eq!(error.code(), "not_enough_data");
    assert!(error.to_string().contains("at least 5 tracks"), "{error}");
}

#[test]
fn user_group_files_name_their_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("groups.csv");
    std::fs::write(&path, "user,group\nalice,at-risk\nbob no-risk\n").unwrap();
    let error = read_user_groups(&path).unwrap_err();
    assert!(error.to_string().contains("line 3"), "{error}");
    std::fs::write(&path, "user,group\nalice,at-risk\nbob,no-risk\n").unwrap();
    let groups = read_user_groups(&path).unwrap();
    assert_eq!(groups["bob"], "no-risk");
}
