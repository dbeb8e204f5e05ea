//! Import throughput: a generated Last.fm-1K-style TSV of 1,000,000 rows
//! (1,000 users, Zipf-distributed plays over 100,000 tracks of 10,000
//! artists, most with MBIDs) imported into a fresh library file.
//!
//! `cargo bench -p segue-core --bench import` (rows: `SEGUE_BENCH_ROWS`).
//! Target: at least 250,000 listens/s on 2 cores.

use std::io::Write;
use std::time::Instant;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use segue_core::Store;
use segue_core::import::{FileImportOptions, import_file};
use segue_core::progress::NoProgress;

const USERS: usize = 1_000;
const TRACKS: usize = 100_000;
const TRACKS_PER_ARTIST: usize = 10;

fn mbid(kind: u8, n: usize) -> String {
    format!("{:08x}-{kind:04x}-4000-8000-{n:012x}", n as u32 ^ 0x5eed_0000)
}

/// Zipf-like draw over `n` ranks (exponent 1) by inverse transform of the
/// continuous approximation.
fn zipf(rng: &mut SmallRng, n: usize) -> usize {
    let u: f64 = rng.random();
    (((n as f64).powf(u)) as usize).saturating_sub(1).min(n - 1)
}

fn generate(path: &std::path::Path, rows: usize) -> std::io::Result<()> {
    let mut rng = SmallRng::seed_from_u64(7);
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let per_user = rows / USERS;
    for user in 0..USERS {
        let count = if user == USERS - 1 {
            rows - per_user * (USERS - 1)
        } else {
            per_user
        };
        let mut time: i64 = 1_100_000_000 + rng.random_range(0..10_000_000);
        let mut lines = Vec::with_capacity(count);
        for _ in 0..count {
            time += rng.random_range(120..600) + if rng.random_bool(0.05) { 20_000 } else { 0 };
            let track = zipf(&mut rng, TRACKS);
            let artist = track / TRACKS_PER_ARTIST;
            let timestamp = chrono::DateTime::from_timestamp(time, 0)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%SZ");
            let track_mbid = if track.is_multiple_of(5) {
                String::new()
            } else {
                mbid(2, track)
            };
            lines.push(format!(
                "user_{user:06}\t{timestamp}\t{}\tArtist {artist}\t{track_mbid}\tSong {track} of artist {artist}\n",
                mbid(1, artist)
            ));
        }
        // Last.fm-1K lists each user's history newest first.
        for line in lines.iter().rev() {
            out.write_all(line.as_bytes())?;
        }
    }
    out.flush()
}

fn main() {
    let rows: usize = std::env::var("SEGUE_BENCH_ROWS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temporary folder");
    let tsv = dir.path().join("lastfm-1k-generated.tsv");
    let started = Instant::now();
    generate(&tsv, rows).expect("generate the TSV");
    let size = std::fs::metadata(&tsv).map(|m| m.len()).unwrap_or(0);
    println!(
        "generated {rows} rows ({:.1} MB) in {:.1} s",
        size as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let store = Store::open(&dir.path().join("library.sqlite")).await.expect("open store");
        let started = Instant::now();
        let report = import_file(&store, &tsv, &FileImportOptions::default(), &NoProgress)
            .await
            .expect("import");
        let seconds = started.elapsed().as_secs_f64();
        let added = report.counts.listens_added;
        println!(
            "imported {added} listens ({} duplicates, {} problems) in {seconds:.2} s: {:.0} listens/s (target 250000)",
            report.counts.duplicates,
            report.counts.malformed + report.counts.bad_timestamps,
            added as f64 / seconds
        );
        let started = Instant::now();
        let again = import_file(&store, &tsv, &FileImportOptions::default(), &NoProgress)
            .await
            .expect("re-import");
        println!(
            "re-imported the same file in {:.2} s: {} added, {} already present",
            started.elapsed().as_secs_f64(),
            again.counts.listens_added,
            again.counts.duplicates
        );
        store.close().await;
    });
}
