//! The evaluation harness and session export through the CLI.

use segue_e2e::{CliLibrary, write_lastfm_1k};

#[test]
fn eval_prints_one_row_per_model_over_the_same_predictions() {
    let library = CliLibrary::new();
    let tsv = library.dir.path().join("three_users.tsv");
    write_lastfm_1k(&tsv, 3, 400);
    library.run(&["import", "file", tsv.to_str().unwrap()]);

    let table = library.json(&[
        "eval",
        "--model",
        "pop,markov,w2v-knn,personal-pop",
        "--threads",
        "1",
    ]);
    let rows = table["rows"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["model"].as_str().unwrap()).collect();
    assert_eq!(names, ["pop", "markov", "w2v-knn", "personal-pop"]);
    let predictions = table["dataset"]["predictions"].as_u64().unwrap();
    assert!(predictions > 0);
    for row in rows {
        assert_eq!(row["metrics"]["predictions"].as_u64().unwrap(), predictions);
        let hr10 = row["metrics"]["hr10"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&hr10));
    }

    let out = library.dir.path().join("train.txt");
    library.run(&[
        "export",
        "sessions",
        "--split",
        "train",
        "--out",
        out.to_str().unwrap(),
    ]);
    let lines = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        lines.lines().count() as u64,
        table["dataset"]["train_sessions"].as_u64().unwrap()
    );

    let unknown = library
        .command()
        .args(["eval", "--model", "gru9"])
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown model 'gru9'"));
}
