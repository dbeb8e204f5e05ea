//! The whole pipeline through the CLI: import → sessions → train (tiny,
//! one epoch) → recommend, then resume on a grown history.

use segue_e2e::{CliLibrary, write_lastfm_1k};

#[test]
fn import_train_recommend_and_resume() {
    let library = CliLibrary::new();
    let first = library.dir.path().join("first.tsv");
    write_lastfm_1k(&first, 2, 300);
    library.run(&["import", "file", first.to_str().unwrap()]);
    let sessions = library.json(&["sessions", "--user", "user_000000", "--limit", "0"]);
    assert!(!sessions.as_array().unwrap().is_empty());

    let trained = library.json(&[
        "train",
        "--model",
        "annw",
        "--epochs",
        "1",
        "--backend",
        "cpu",
        "--w2v-epochs",
        "1",
    ]);
    assert_eq!(trained["model"], "annw");
    assert_eq!(trained["summary"]["epochs"], 1);
    let tracks = trained["tracks"].as_u64().unwrap();
    assert!(tracks > 100);
    let checkpoint = std::path::PathBuf::from(trained["checkpoint"].as_str().unwrap());
    assert!(checkpoint.join("config.json").exists() && checkpoint.join("model.bpk").exists());

    let suggestions = library.json(&["recommend", "--user", "user_000000", "-k", "10"]);
    assert_eq!(suggestions["model"], "annw");
    let list = suggestions["suggestions"].as_array().unwrap();
    assert_eq!(list.len(), 10);
    let ranks: Vec<u64> = list.iter().map(|s| s["rank"].as_u64().unwrap()).collect();
    assert_eq!(ranks, (1..=10).collect::<Vec<_>>());
    let scores: Vec<f64> = list.iter().map(|s| s["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "not sorted: {scores:?}");
    assert!(!suggestions["history"].as_array().unwrap().is_empty());

    // An explicit history, without repeats of its own tracks.
    let history: Vec<String> = suggestions["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["track"]["id"].to_string())
        .collect();
    let joined = history.join(",");
    let fresh = library.json(&["recommend", "--history", &joined, "-k", "5", "--no-repeat"]);
    for suggestion in fresh["suggestions"].as_array().unwrap() {
        assert!(!history.contains(&suggestion["track"]["id"].to_string()));
    }

    // The history grows by a third user: resuming extends the vocabulary.
    let more = library.dir.path().join("more.tsv");
    write_lastfm_1k(&more, 3, 300);
    library.run(&["import", "file", more.to_str().unwrap()]);
    let resumed = library.json(&[
        "train",
        "--model",
        "annw",
        "--resume",
        "--epochs",
        "1",
        "--backend",
        "cpu",
        "--w2v-epochs",
        "1",
    ]);
    assert!(resumed["tracks"].as_u64().unwrap() >= tracks);
    let after = library.json(&["recommend", "--user", "user_000002", "-k", "3"]);
    assert_eq!(after["suggestions"].as_array().unwrap().len(), 3);

    let missing = library
        .command()
        .args(["recommend", "--user", "user_000000", "--model", "sasrec"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("train it with"));
}
