//! The CLI pipeline: import → stats → sessions, and an import killed with
//! SIGKILL in the middle of a file, then re-run.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use segue_e2e::{CliLibrary, GeneratedListen, KilledOnDrop, write_lastfm_1k};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Row};

#[test]
fn import_then_stats_and_sessions_through_the_cli() {
    let library = CliLibrary::new();
    let tsv = library.dir.path().join("two_users.tsv");
    let listens = write_lastfm_1k(&tsv, 2, 300);
    let reports = library.json(&["import", "file", tsv.to_str().unwrap()]);
    assert_eq!(reports[0]["format"], "lastfm-1k");
    assert_eq!(reports[0]["counts"]["listens_added"], listens.len());

    let stats = library.json(&["stats"]);
    assert_eq!(stats["users"], 2);
    assert_eq!(stats["listens"], listens.len());
    assert!(stats["sessions_kept"].as_u64().unwrap() > 0);

    let sessions = library.json(&["sessions", "--user", "user_000001", "--limit", "0"]);
    let in_sessions: usize = sessions
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["tracks"].as_array().unwrap().len())
        .sum();
    assert!(in_sessions <= 300 && in_sessions > 0);
    // A longer gap can only merge sessions.
    let merged = library.json(&[
        "sessions",
        "--user",
        "user_000001",
        "--limit",
        "0",
        "--gap",
        "10h",
    ]);
    assert!(merged.as_array().unwrap().len() <= sessions.as_array().unwrap().len());

    let text = library.run(&["stats"]);
    assert!(text.contains("sessions"), "{text}");
}

#[test]
fn a_malformed_file_fails_with_its_name_and_changes_nothing() {
    let library = CliLibrary::new();
    let bad = library.dir.path().join("notes.txt");
    std::fs::write(&bad, "just some words\n").unwrap();
    let output = library
        .command()
        .args(["import", "file", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("notes.txt"), "{stderr}");
    assert!(stderr.contains("unknown_format"), "{stderr}");
    assert_eq!(library.json(&["stats"])["listens"], 0);
}

async fn read_listens(db: &std::path::Path) -> BTreeSet<GeneratedListen> {
    let mut conn = SqliteConnectOptions::new()
        .filename(db)
        .read_only(true)
        .connect()
        .await
        .unwrap();
    let rows = sqlx::query(
        "SELECT u.name, l.played_at, a.name, t.title FROM listens l JOIN users u ON u.id = l.user_id \
         JOIN tracks t ON t.id = l.track_id JOIN artists a ON a.id = t.artist_id",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    rows.iter()
        .map(|row| GeneratedListen {
            user: row.get(0),
            played_at: row.get(1),
            artist: row.get(2),
            title: row.get(3),
        })
        .collect()
}

async fn progress(db: &std::path::Path) -> Option<(i64, String, i64)> {
    let mut conn = SqliteConnectOptions::new()
        .filename(db)
        .read_only(true)
        .connect()
        .await
        .ok()?;
    let row = sqlx::query("SELECT cursor, status, (SELECT count(*) FROM listens) FROM import_runs")
        .fetch_optional(&mut conn)
        .await
        .ok()??;
    Some((row.get(0), row.get(1), row.get(2)))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_import_killed_mid_file_resumes_and_keeps_every_listen_once() {
    let library = CliLibrary::new();
    let tsv = library.dir.path().join("big.tsv");
    let expected = write_lastfm_1k(&tsv, 40, 5_000);
    let rows = 40 * 5_000;

    let mut child = KilledOnDrop(
        library
            .command()
            .args(["import", "file", tsv.to_str().unwrap(), "--batch-size", "1000"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    let killed_at = loop {
        let timed_out = Instant::now() >= deadline;
        let committed = progress(&library.db()).await.filter(|(cursor, _, _)| *cursor > 0);
        if timed_out || committed.is_some() {
            child.kill();
            let (cursor, status, listens) = committed.expect("the import never committed a batch");
            assert_eq!(status, "running", "the import finished before it could be killed");
            break (cursor, listens);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    let (cursor, _, listens) = progress(&library.db()).await.unwrap();
    assert!(
        cursor >= killed_at.0 && (cursor as usize) < rows,
        "killed at {cursor} of {rows}"
    );
    assert!((listens as usize) < expected.len());
    assert_eq!(cursor % 1000, 0, "only whole batches are committed");

    let reports = library.json(&["import", "file", tsv.to_str().unwrap(), "--batch-size", "1000"]);
    assert_eq!(reports[0]["resumed_at"], cursor);
    assert_eq!(reports[0]["counts"]["duplicates"], 0);
    let stored = read_listens(&library.db()).await;
    assert_eq!(stored.len(), expected.len());
    assert_eq!(stored, expected);
    let (_, status, _) = progress(&library.db()).await.unwrap();
    assert_eq!(status, "completed");
}
