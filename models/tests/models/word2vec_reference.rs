//! Segue's CBOW against gensim's on a structured corpus: the reference
//! neighbours come from `models/scripts/gensim_word2vec.py fixture`.

use std::collections::{BTreeMap, HashSet};

use segue_models::word2vec::{Word2Vec, Word2VecConfig};
use serde::Deserialize;

use crate::helpers::{fixture, read_sessions};

#[derive(Deserialize)]
struct Reference {
    vector_size: usize,
    min_count: usize,
    /// Mean top-10 overlap of gensim with itself across two seeds.
    seed_overlap: f64,
    neighbours: BTreeMap<String, Vec<String>>,
}

/// Items of the corpus come in clusters of 25 consecutive ids.
const CLUSTER: u32 = 25;

#[test]
fn neighbours_agree_with_gensim_as_well_as_gensim_agrees_with_itself() {
    let sessions = read_sessions(&fixture("structured_sessions.txt"));
    let reference: Reference =
        serde_json::from_str(&std::fs::read_to_string(fixture("structured_gensim_neighbours.json")).unwrap())
            .unwrap();
    let config = Word2VecConfig {
        vector_size: reference.vector_size,
        min_count: reference.min_count,
        threads: 1,
        ..Word2VecConfig::default()
    };
    let (vectors, stats) = Word2Vec::train(&sessions, &config).unwrap();
    assert_eq!(
        vectors.len(),
        reference.neighbours.len(),
        "same vocabulary as gensim"
    );
    assert!(stats.effective_words > 0 && stats.effective_words <= stats.raw_words);

    let mut overlap_sum = 0.0;
    let mut same_cluster = 0usize;
    let mut neighbours_seen = 0usize;
    for (token, gensim_top) in &reference.neighbours {
        let token: u32 = token.parse().unwrap();
        let ours: HashSet<u32> = vectors
            .most_similar(token, 10)
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        let theirs: HashSet<u32> = gensim_top.iter().map(|t| t.parse().unwrap()).collect();
        overlap_sum += ours.intersection(&theirs).count() as f64 / 10.0;
        same_cluster += ours.iter().filter(|t| **t / CLUSTER == token / CLUSTER).count();
        neighbours_seen += ours.len();
    }
    let overlap = overlap_sum / reference.neighbours.len() as f64;
    let purity = same_cluster as f64 / neighbours_seen as f64;
    eprintln!(
        "top-10 overlap with gensim {overlap:.3} (gensim with itself across seeds {:.3}); cluster purity {purity:.3}",
        reference.seed_overlap
    );
    assert!(
        overlap >= 0.9 * reference.seed_overlap,
        "top-10 overlap with gensim {overlap:.3}, gensim with itself {:.3}",
        reference.seed_overlap
    );
    assert!(
        purity >= 0.95,
        "only {purity:.3} of the neighbours share the token's cluster"
    );
}
