//! CBOW training speed next to gensim's, on the same corpus, in one run.
//!
//! `cargo bench -p segue-models --bench word2vec` generates a 2,000,000-token
//! corpus (sessions of 20 tracks drawn from a Zipf(1) distribution over
//! 50,000 tracks), trains Segue's CBOW with gensim's defaults (150
//! dimensions) at 1 and 2 threads, then runs gensim 4.4 on the same file
//! through `models/scripts/reference_env.sh` (a throwaway virtual
//! environment) and prints both. Throughput is gensim's own measure:
//! effective (kept after down-sampling) words per second of training.
//! Set `SEGUE_BENCH_SKIP_GENSIM=1` to skip the reference.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use segue_models::word2vec::{Word2Vec, Word2VecConfig};

const TOKENS: usize = 2_000_000;
const VOCABULARY: usize = 50_000;
const SESSION: usize = 20;

fn zipf_corpus() -> Vec<Vec<u32>> {
    let mut cumulative = Vec::with_capacity(VOCABULARY);
    let mut total = 0.0;
    for rank in 1..=VOCABULARY {
        total += 1.0 / rank as f64;
        cumulative.push(total);
    }
    let mut rng = SmallRng::seed_from_u64(42);
    (0..TOKENS / SESSION)
        .map(|_| {
            (0..SESSION)
                .map(|_| {
                    let x = rng.random::<f64>() * total;
                    cumulative.partition_point(|c| *c < x) as u32
                })
                .collect()
        })
        .collect()
}

fn write_corpus(path: &Path, sessions: &[Vec<u32>]) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for session in sessions {
        let line: Vec<String> = session.iter().map(u32::to_string).collect();
        writeln!(out, "{}", line.join(" "))?;
    }
    out.flush()
}

fn gensim(corpus: &Path) -> Result<Vec<serde_json::Value>, String> {
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts");
    let env = Command::new(scripts.join("reference_env.sh"))
        .output()
        .map_err(|e| format!("cannot run reference_env.sh: {e}"))?;
    if !env.status.success() {
        return Err(format!(
            "reference_env.sh failed: {}",
            String::from_utf8_lossy(&env.stderr)
        ));
    }
    let python = String::from_utf8_lossy(&env.stdout).trim().to_owned();
    let output = Command::new(&python)
        .arg(scripts.join("gensim_word2vec.py"))
        .args(["bench", "--corpus"])
        .arg(corpus)
        .args(["--threads", "1,2"])
        .output()
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "gensim failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).map_err(|e| format!("gensim printed '{l}': {e}")))
        .collect()
}

fn main() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let corpus_path = dir.path().join("zipf_corpus.txt");
    let sessions = zipf_corpus();
    write_corpus(&corpus_path, &sessions).expect("write the corpus");
    println!(
        "corpus: {} sessions of {SESSION}, {} tokens, Zipf(1) over {VOCABULARY} tracks",
        sessions.len(),
        sessions.len() * SESSION
    );
    println!(
        "{:<14} {:>8} {:>16} {:>10} {:>14}",
        "tool", "threads", "effective words", "seconds", "words/s"
    );
    for threads in [1, 2] {
        let config = Word2VecConfig {
            threads,
            ..Word2VecConfig::default()
        };
        let (_, stats) = Word2Vec::train(&sessions, &config).expect("train");
        println!(
            "{:<14} {:>8} {:>16} {:>10.2} {:>14.0}",
            "segue",
            threads,
            stats.effective_words,
            stats.seconds,
            stats.effective_words as f64 / stats.seconds
        );
    }
    if std::env::var_os("SEGUE_BENCH_SKIP_GENSIM").is_some() {
        println!("gensim: skipped (SEGUE_BENCH_SKIP_GENSIM is set)");
        return;
    }
    match gensim(&corpus_path) {
        Ok(rows) => {
            for row in rows {
                println!(
                    "{:<14} {:>8} {:>16} {:>10.2} {:>14.0}",
                    format!("gensim {}", row["version"].as_str().unwrap_or("?")),
                    row["threads"],
                    row["effective_words"],
                    row["seconds"].as_f64().unwrap_or(f64::NAN),
                    row["effective_words_per_second"].as_f64().unwrap_or(f64::NAN)
                );
            }
        }
        Err(reason) => println!("gensim: not measured ({reason})"),
    }
}
