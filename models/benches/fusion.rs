//! Speed and memory of the fusion model on the CPU, next to PyTorch.
//!
//! `cargo bench -p segue-models --bench fusion` measures, on the ndarray
//! backend:
//! - a training step (forward, backward, Adam) of the fusion model with all
//!   three modalities at V = 50,000 tracks, batch 32, histories of 20;
//! - the top-10 of one history at V = 400,000 (median of repeated calls);
//!
//! and then runs `models/scripts/torch_fusion.py` (the same model in PyTorch,
//! 2 threads) in the reference environment for the training step, in the
//! same run. `SEGUE_BENCH_SKIP_TORCH=1` skips PyTorch; `SEGUE_BENCH_PART=train`
//! measures the training step only (for profiling).
//!
//! Peak memory of training at the paper's scale (V = 413,000) is measured
//! by `SEGUE_BENCH_PEAK=413000 cargo bench -p segue-models --bench fusion`,
//! which runs only a few steps at that size and reports the peak RSS.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use burn::prelude::*;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use segue_models::nn::attentive::{AttentiveNetConfig, ModalityInit, ModalitySpec};
use segue_models::nn::device::ComputeDevice;
use segue_models::nn::model::NextTrackModel;
use segue_models::nn::scorer::NeuralScorer;
use segue_models::nn::train::{Stepper, TrainConfig};

// Large tensors come and go every step; glibc's allocator returns them to the
// system each time (page faults on every reuse), mimalloc keeps them, as the
// Segue binaries do.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 32;
const LENGTH: usize = 20;

fn fusion(num_items: usize, device: &Device) -> NextTrackModel {
    let modalities: Vec<ModalitySpec> = ["acoustic", "lyrics", "tags"]
        .iter()
        .map(|name| ModalitySpec {
            name: (*name).to_owned(),
            dim: 150,
        })
        .collect();
    let mut rng = SmallRng::seed_from_u64(5);
    let inits: Vec<ModalityInit> = modalities
        .iter()
        .map(|_| ModalityInit {
            values: (0..num_items * 150)
                .map(|_| rng.random_range(-0.1..0.1))
                .collect(),
            available: vec![true; num_items],
        })
        .collect();
    let config = AttentiveNetConfig::new(num_items).with_modalities(modalities);
    NextTrackModel::Attentive(config.init_with(device, None, &inits).expect("fusion model"))
}

fn random_batch(rng: &mut SmallRng, num_items: usize) -> (Vec<Vec<u32>>, Vec<u32>) {
    let histories = (0..BATCH)
        .map(|_| {
            (0..LENGTH)
                .map(|_| rng.random_range(0..num_items as u32))
                .collect()
        })
        .collect();
    let targets = (0..BATCH)
        .map(|_| rng.random_range(0..num_items as u32))
        .collect();
    (histories, targets)
}

/// Seconds per training step (the training loop's own step), after warm-up.
fn train_steps(num_items: usize, steps: usize) -> Vec<f64> {
    let device = ComputeDevice::cpu().device;
    device.seed(1);
    let model = fusion(num_items, &device);
    let mut stepper = Stepper::new(model, &TrainConfig::default(), &device);
    let mut rng = SmallRng::seed_from_u64(9);
    let mut times = Vec::new();
    for step in 0..steps + 3 {
        let (histories, targets) = random_batch(&mut rng, num_items);
        let refs: Vec<&[u32]> = histories.iter().map(Vec::as_slice).collect();
        let started = Instant::now();
        let loss = stepper.step(&refs, &targets);
        assert!(loss.is_finite());
        if step >= 3 {
            times.push(started.elapsed().as_secs_f64());
        }
    }
    times
}

/// Median milliseconds of `NeuralScorer::top_k` for one history of 20 at `num_items`.
fn top_10_latency(num_items: usize) -> f64 {
    let device = ComputeDevice::cpu().device;
    device.seed(1);
    let scorer = NeuralScorer::new(&fusion(num_items, &device), &device, num_items);
    let mut rng = SmallRng::seed_from_u64(3);
    let mut latencies = Vec::new();
    for call in 0..23 {
        let history: Vec<u32> = (0..LENGTH)
            .map(|_| rng.random_range(0..num_items as u32))
            .collect();
        let started = Instant::now();
        let top = scorer.top_k(&history, 10, &[]);
        assert_eq!(top.len(), 10);
        if call >= 3 {
            latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    median(&mut latencies)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn torch(num_items: usize, steps: usize) -> Result<serde_json::Value, String> {
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts");
    let env = Command::new(scripts.join("reference_env.sh"))
        .arg("torch")
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
        .arg(scripts.join("torch_fusion.py"))
        .args([
            "--items",
            &num_items.to_string(),
            "--steps",
            &steps.to_string(),
            "--threads",
            "2",
        ])
        .output()
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "PyTorch failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("PyTorch printed no JSON: {e}"))
}

fn main() {
    if let Some(items) = std::env::var("SEGUE_BENCH_PEAK")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        let mut times = train_steps(items, 3);
        println!(
            "fusion training at V = {items}: median step {:.2} s, peak RSS {:.0} MB (target < 6144 MB)",
            median(&mut times),
            peak_rss_mb().unwrap_or(f64::NAN)
        );
        return;
    }
    let items = 50_000;
    let steps = 20;
    let mut times = train_steps(items, steps);
    let ours = median(&mut times);
    println!("fusion training step, V = {items}, batch {BATCH}, length {LENGTH}, CPU:");
    println!("  segue (Burn ndarray)   median {:.3} s over {steps} steps", ours);

    if std::env::var("SEGUE_BENCH_PART").as_deref() == Ok("train") {
        return;
    }
    let big = 400_000;
    let at_scale = top_10_latency(big);
    // At 1,000 tracks ranking costs nothing: what remains is the network's
    // forward pass, the part of the latency that does not grow with V.
    let forward_only = top_10_latency(1_000);
    println!(
        "top-10 of one history, V = {big}, CPU: median {at_scale:.1} ms (target ≤ 15 ms); \
         the same at V = 1,000 (the forward pass alone): {forward_only:.1} ms"
    );
    if std::env::var("SEGUE_BENCH_PART").as_deref() == Ok("top-k") {
        return;
    }

    if std::env::var_os("SEGUE_BENCH_SKIP_TORCH").is_some() {
        println!("PyTorch: skipped (SEGUE_BENCH_SKIP_TORCH is set)");
        return;
    }
    match torch(items, steps) {
        Ok(result) => {
            let theirs = result["median_step_seconds"].as_f64().unwrap_or(f64::NAN);
            println!(
                "  PyTorch {} (2 threads) median {theirs:.3} s over {steps} steps",
                result["torch"].as_str().unwrap_or("?")
            );
            println!("  segue / PyTorch = {:.2} (target ≤ 1.00)", ours / theirs);
        }
        Err(reason) => println!("PyTorch: not measured ({reason})"),
    }
}
