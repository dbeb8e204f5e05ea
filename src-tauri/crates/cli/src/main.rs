//! `segue-cli`: Segue from a terminal.
//!
//! A thin front end over `segue-core`: it parses arguments, calls the core,
//! and prints tables (or JSON with `--json`). Long work shows progress bars;
//! Ctrl-C stops an import after its current batch, and running the same
//! command again resumes it.

mod progress;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use segue_core::Store;

use segue_core::TrackId;
use segue_core::eval::{
    EvalOptions, EvalTable, LsaConfig, Word2VecConfig, build_dataset, build_full_dataset, read_user_groups,
    run_eval, split_sessions, train_lsa_vectors, train_track_vectors,
};
use segue_core::features::tags::import_30music_tags;
use segue_core::import::lastfm::{LastfmClient, LastfmImportMode, import_lastfm};
use segue_core::import::{FileImportOptions, ImportFormat, ImportReport, import_file};
use segue_core::models::ModelSpec;
use segue_core::pipeline::{
    BackendChoice, CheckpointExtra, HistorySpec, NeuralOptions, TrainConfig, compute_device, find_checkpoint,
    fit, load_model, models_dir, prepare, prepare_resume, recommend, save_model,
};
use segue_core::progress::CancelFlag;
use segue_core::progress::{Progress, ProgressEvent};
use segue_core::sessions::{SessionRules, sessionize};
use segue_core::settings::Settings;
use segue_core::stats::library_stats;

use crate::progress::TerminalProgress;

#[derive(Debug, Parser)]
#[command(
    name = "segue-cli",
    version,
    about = "Segue: next-track suggestions from your own listening history"
)]
struct Cli {
    /// The library file (default: $XDG_DATA_HOME/segue/library.sqlite).
    #[arg(long, global = true, env = "SEGUE_DB")]
    db: Option<PathBuf>,

    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,

    /// The settings file (default: $XDG_CONFIG_HOME/segue/settings.json).
    #[arg(long, global = true, env = "SEGUE_SETTINGS")]
    settings: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Import listening history.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Show library totals.
    Stats(SessionArgs),
    /// List listening sessions.
    Sessions {
        #[command(flatten)]
        rules: SessionArgs,
        /// Show at most this many sessions (the most recent), 0 for all.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// List users and their listen counts.
    Users,
    /// Evaluate models with the paper's protocol (per user 70 % of sessions train, the rest test).
    Eval(EvalArgs),
    /// Train a neural model and save it for `recommend`.
    Train(TrainArgs),
    /// Suggest the next tracks after a history.
    Recommend(RecommendArgs),
    /// Content features of tracks.
    #[command(subcommand)]
    Features(FeaturesCommand),
    /// Export sessions for other tools.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Train track embeddings and write them for other tools.
    #[command(subcommand)]
    Embeddings(EmbeddingsCommand),
    /// List recent import runs, or the problems of one.
    Imports {
        /// How many runs to show.
        #[arg(long, default_value_t = 20)]
        limit: i64,
        /// Show the stored problems (file locations and reasons) of this run.
        #[arg(long)]
        run: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
enum ImportCommand {
    /// Import a Last.fm user's scrobbles through the API (key from LASTFM_API_KEY or the settings).
    Lastfm {
        /// The Last.fm user name.
        #[arg(long)]
        user: String,
        /// The library user to file the listens under (default: the Last.fm user name).
        #[arg(long = "as")]
        store_user: Option<String>,
        /// Fetch the whole history again instead of only what is new.
        #[arg(long)]
        full: bool,
    },
    /// Import export files (format detected from content).
    File {
        /// The files.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Force a format (one of: lastfm-csv, librefm-csv, listenbrainz-json, listenbrainz-jsonl,
        /// spotify-extended, spotify-recently-played, scrobbler-log, lastfm-1k, 30music, maloja,
        /// pano-scrobbler, lastfm-api-json).
        #[arg(long)]
        format: Option<String>,
        /// The library user of single-user files (default: the settings' default user).
        #[arg(long)]
        user: Option<String>,
        /// Records per transaction; an interrupted import loses at most one batch.
        #[arg(long, default_value_t = 20_000)]
        batch_size: usize,
    },
}

#[derive(Debug, Args)]
struct EvalArgs {
    /// Comma-separated models: pop, markov, w2v-knn, personal-pop, ann, annw, ann-lsa, gru4rec,
    /// sasrec, fusion (every modality the library has), annw+acoustic|lyrics|tags[+…].
    #[arg(long, default_value = "pop,markov,w2v-knn,personal-pop")]
    model: String,
    /// A CSV of `user,group`: every metric is also reported per group.
    #[arg(long)]
    user_group: Option<PathBuf>,
    /// Also rank with these word2vec text vectors keyed by track id (e.g. gensim's).
    #[arg(long = "w2v-vectors")]
    w2v_vectors: Vec<PathBuf>,
    #[command(flatten)]
    word2vec: Word2VecArgs,
    #[command(flatten)]
    neural: NeuralArgs,
    #[command(flatten)]
    rules: SessionArgs,
}

#[derive(Debug, Args)]
struct NeuralArgs {
    /// Where neural models train: auto (a GPU when there is one), cpu, wgpu or cuda
    /// (default: the settings' `backend`, itself `auto` by default).
    #[arg(long)]
    backend: Option<String>,
    /// Most epochs (training stops earlier when validation HitRatio@10 stops improving).
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Epochs without improvement before stopping.
    #[arg(long, default_value_t = 2)]
    patience: usize,
    /// Examples per step.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    learning_rate: f64,
}

impl NeuralArgs {
    fn options(&self, word2vec: &Word2VecArgs, settings: &Settings) -> Result<NeuralOptions> {
        Ok(NeuralOptions {
            backend: self
                .backend
                .as_deref()
                .unwrap_or(&settings.backend)
                .parse::<BackendChoice>()?,
            train: TrainConfig {
                max_epochs: self.epochs,
                patience: self.patience,
                batch_size: self.batch_size,
                learning_rate: self.learning_rate,
                seed: word2vec.seed,
            },
            word2vec: word2vec.config(),
            ..NeuralOptions::default()
        })
    }
}

#[derive(Debug, Args)]
struct Word2VecArgs {
    /// Worker threads (default: all cores; 1 is deterministic).
    #[arg(long)]
    threads: Option<usize>,
    /// Seed of every random draw.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// CBOW: tokens seen fewer times get no vector (the harness's default is 1).
    #[arg(long, default_value_t = 1)]
    w2v_min_count: usize,
    /// CBOW: passes over the sessions.
    #[arg(long, default_value_t = 5)]
    w2v_epochs: usize,
    /// CBOW: context window.
    #[arg(long, default_value_t = 5)]
    w2v_window: usize,
    /// CBOW: vector dimensions.
    #[arg(long, default_value_t = 150)]
    w2v_vector_size: usize,
}

impl Word2VecArgs {
    fn config(&self) -> Word2VecConfig {
        Word2VecConfig {
            threads: self.threads.unwrap_or_else(default_threads),
            seed: self.seed,
            min_count: self.w2v_min_count,
            epochs: self.w2v_epochs,
            window: self.w2v_window,
            vector_size: self.w2v_vector_size,
            ..Word2VecConfig::default()
        }
    }
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum TrainSplit {
    /// Every kept session (for recommending).
    All,
    /// The paper's training split (per user the first 70 % of sessions).
    Paper,
}

#[derive(Debug, Args)]
struct TrainArgs {
    /// ann, annw, ann-lsa, gru4rec, sasrec, fusion, annw+acoustic|lyrics|tags[+…].
    #[arg(long, default_value = "annw")]
    model: String,
    /// Which sessions to learn from.
    #[arg(long, value_enum, default_value = "all")]
    split: TrainSplit,
    /// The checkpoint folder (default: <data folder>/models/<model>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the saved model on the grown history: tracks new since it was
    /// trained get embedding rows from CBOW, and training starts from its weights.
    #[arg(long)]
    resume: bool,
    #[command(flatten)]
    word2vec: Word2VecArgs,
    #[command(flatten)]
    neural: NeuralArgs,
    #[command(flatten)]
    rules: SessionArgs,
}

#[derive(Debug, Args)]
struct RecommendArgs {
    /// The user whose last session is the history.
    #[arg(long)]
    user: Option<String>,
    /// `last-session`, or track ids oldest first: "12,7,93".
    #[arg(long, default_value = "last-session")]
    history: String,
    /// How many suggestions.
    #[arg(short, long, default_value_t = 10)]
    k: usize,
    /// Leave out the history's own tracks.
    #[arg(long)]
    no_repeat: bool,
    /// The trained model (default: the most recently trained).
    #[arg(long)]
    model: Option<String>,
    /// Where to run the model (default: the settings' `backend`).
    #[arg(long)]
    backend: Option<String>,
}

#[derive(Debug, Subcommand)]
enum FeaturesCommand {
    /// Import the per-track tag ids of a 30Music sessions JSON (aligned with its TSV).
    Tags {
        /// The `sessions_30music_*.json` file.
        #[arg(long = "from-30music")]
        from_30music: PathBuf,
        /// The 30Music TSV whose sessions the JSON describes.
        #[arg(long)]
        tsv: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SplitPart {
    Train,
    Test,
    All,
}

#[derive(Debug, Subcommand)]
enum ExportCommand {
    /// One session per line: its track ids separated by spaces.
    Sessions {
        /// Which sessions.
        #[arg(long, value_enum, default_value = "train")]
        split: SplitPart,
        /// The output file.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        rules: SessionArgs,
    },
}

#[derive(Debug, Subcommand)]
enum EmbeddingsCommand {
    /// LSA track vectors (truncated SVD of the session × track counts), keyed by track id.
    Lsa {
        /// The output file.
        #[arg(long)]
        out: PathBuf,
        /// Dimensions kept.
        #[arg(long, default_value_t = 150)]
        components: usize,
        #[command(flatten)]
        rules: SessionArgs,
    },
    /// CBOW track vectors of the training sessions, in word2vec text format keyed by track id.
    W2v {
        /// The output file.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        word2vec: Word2VecArgs,
        #[command(flatten)]
        rules: SessionArgs,
    },
}

#[derive(Debug, Args)]
struct SessionArgs {
    /// Only this user.
    #[arg(long)]
    user: Option<String>,
    /// A pause of at least this long ends a session (e.g. 2h, 30m).
    #[arg(long, value_parser = humantime::parse_duration)]
    gap: Option<Duration>,
    /// Sessions with fewer tracks are dropped.
    #[arg(long)]
    min_len: Option<usize>,
}

impl SessionArgs {
    fn rules(&self, settings: &Settings) -> SessionRules {
        SessionRules {
            gap_secs: self.gap.map_or(settings.sessions.gap_secs, |g| {
                i64::try_from(g.as_secs()).unwrap_or(i64::MAX)
            }),
            min_len: self.min_len.unwrap_or(settings.sessions.min_len),
        }
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SEGUE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let code = e
                .downcast_ref::<segue_core::Error>()
                .map_or("error", segue_core::Error::code);
            eprintln!("error[{code}]: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let settings_path = match &cli.settings {
        Some(path) => path.clone(),
        None => Settings::default_path()?,
    };
    let settings = Settings::load(&settings_path)?;
    let store_path = segue_core::paths::store_path(cli.db.clone())?;
    let store = Store::open(&store_path).await?;
    let result = dispatch(&cli, &settings, &store).await;
    store.close().await;
    result
}

async fn dispatch(cli: &Cli, settings: &Settings, store: &Store) -> Result<()> {
    match &cli.command {
        Command::Import(ImportCommand::File {
            paths,
            format,
            user,
            batch_size,
        }) => {
            let format = format.as_deref().map(str::parse::<ImportFormat>).transpose()?;
            let options = FileImportOptions {
                format,
                user: user.clone().unwrap_or_else(|| settings.default_user.clone()),
                batch_size: *batch_size,
            };
            let cancel = cancel_on_ctrl_c();
            let mut reports = Vec::new();
            let mut failures = 0;
            for path in paths {
                let progress = TerminalProgress::new(!cli.json, cancel.clone());
                match import_file(store, path, &options, &progress).await {
                    Ok(report) => {
                        if !cli.json {
                            print_report(&report);
                        }
                        reports.push(serde_json::to_value(&report)?);
                    }
                    Err(e) => {
                        if matches!(e, segue_core::Error::Cancelled) {
                            anyhow::bail!(
                                "import of {} cancelled; run the same command again to resume",
                                path.display()
                            );
                        }
                        failures += 1;
                        eprintln!("error[{}]: {e}", e.code());
                        reports.push(serde_json::json!({
                            "source": path, "error": {"code": e.code(), "message": e.to_string()}
                        }));
                    }
                }
            }
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&reports)?);
            }
            if failures > 0 {
                anyhow::bail!("{failures} of {} files could not be imported", paths.len());
            }
            Ok(())
        }
        Command::Import(ImportCommand::Lastfm {
            user,
            store_user,
            full,
        }) => {
            let key = settings.lastfm_api_key()?;
            let client = LastfmClient::new(key)?;
            let progress = TerminalProgress::new(!cli.json, cancel_on_ctrl_c());
            let mode = if *full {
                LastfmImportMode::Full
            } else {
                LastfmImportMode::Incremental
            };
            let store_user = store_user.as_deref().unwrap_or(user);
            let report = import_lastfm(store, &client, user, store_user, mode, &progress)
                .await
                .map_err(|e| match e {
                    segue_core::Error::Cancelled => {
                        anyhow::anyhow!("Last.fm import cancelled; run the same command again to resume")
                    }
                    e => e.into(),
                })?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_report(&report);
            }
            Ok(())
        }
        Command::Stats(args) => {
            let user = resolve_user(store, args.user.as_deref()).await?;
            let stats = library_stats(store, user, args.rules(settings)).await?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&stats)?);
            } else {
                println!("users                {}", stats.users);
                println!("listens              {}", stats.listens);
                println!("tracks               {}", stats.tracks);
                println!(
                    "sessions             {} kept ({} before dropping those under {} tracks; gap {})",
                    stats.sessions_kept,
                    stats.sessions_formed,
                    stats.rules.min_len,
                    humantime::format_duration(Duration::from_secs(stats.rules.gap_secs.max(0) as u64))
                );
                println!("mean session length  {:.2} tracks", stats.mean_session_length);
                println!(
                    "date range           {} .. {}",
                    format_time(stats.first_listen),
                    format_time(stats.last_listen)
                );
            }
            Ok(())
        }
        Command::Sessions { rules, limit } => {
            let user = resolve_user(store, rules.user.as_deref()).await?;
            let listens = store.listens_in_order(user).await?;
            let sessions = sessionize(&listens, rules.rules(settings));
            let mut kept = sessions.kept;
            kept.sort_by_key(|s| (s.start, s.user));
            let shown = if *limit == 0 || *limit >= kept.len() {
                &kept[..]
            } else {
                &kept[kept.len() - limit..]
            };
            if cli.json {
                println!("{}", serde_json::to_string_pretty(shown)?);
                return Ok(());
            }
            let names: std::collections::HashMap<i64, String> = store
                .users()
                .await?
                .into_iter()
                .map(|u| (u.id.0, u.name))
                .collect();
            println!(
                "{:<16} {:<20} {:>8} {:>6}",
                "user", "start (UTC)", "minutes", "tracks"
            );
            for session in shown {
                println!(
                    "{:<16} {:<20} {:>8} {:>6}",
                    names.get(&session.user.0).map_or("?", String::as_str),
                    format_time(Some(session.start)),
                    (session.end - session.start) / 60,
                    session.len()
                );
            }
            println!(
                "{} of {} kept sessions shown ({} formed)",
                shown.len(),
                kept.len(),
                sessions.formed
            );
            Ok(())
        }
        Command::Eval(args) => {
            let user = resolve_user(store, args.rules.user.as_deref()).await?;
            let dataset = build_dataset(store, args.rules.rules(settings), user).await?;
            let options = EvalOptions {
                models: ModelSpec::parse_list(&args.model)?,
                neural: args.neural.options(&args.word2vec, settings)?,
                word2vec: args.word2vec.config(),
                extra_vectors: args.w2v_vectors.clone(),
                user_groups: args.user_group.as_deref().map(read_user_groups).transpose()?,
                threads: args.word2vec.threads.unwrap_or_else(default_threads),
            };
            let progress = TerminalProgress::new(!cli.json, cancel_on_ctrl_c());
            let started = std::time::Instant::now();
            let table = run_eval(store, &dataset, &options, &progress).await?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&table)?);
            } else {
                print_eval_table(&table);
                println!("wall time {:.1} s", started.elapsed().as_secs_f64());
            }
            Ok(())
        }
        Command::Train(args) => {
            let user = resolve_user(store, args.rules.user.as_deref()).await?;
            let rules = args.rules.rules(settings);
            let spec: ModelSpec = args.model.parse()?;
            let dir = args.out.clone().unwrap_or(models_dir()?.join(spec.to_string()));
            let options = args.neural.options(&args.word2vec, settings)?;
            let progress = TerminalProgress::new(!cli.json, cancel_on_ctrl_c());
            let device = compute_device(options.backend, &progress)?;
            let (prepared, dataset) = if args.resume {
                if args.split != TrainSplit::All {
                    anyhow::bail!("--resume continues a model of every session: drop --split paper");
                }
                let (prepared, dataset, previous) =
                    prepare_resume(store, &dir, rules, user, &options, &device).await?;
                progress.report(ProgressEvent::Note {
                    message: format!(
                        "resuming {} from {}: {} tracks, {} of them new",
                        prepared.spec,
                        dir.display(),
                        dataset.num_items(),
                        dataset.num_items() - previous
                    ),
                });
                (prepared, dataset)
            } else {
                let dataset = match args.split {
                    TrainSplit::All => build_full_dataset(store, rules, user).await?,
                    TrainSplit::Paper => build_dataset(store, rules, user).await?,
                };
                let prepared = prepare(store, &dataset, &spec, &options, &device).await?;
                (prepared, dataset)
            };
            let spec = prepared.spec.clone();
            let architecture = prepared.architecture.clone();
            let modalities = prepared.modalities.clone();
            for (modality, coverage) in &modalities {
                progress.report(ProgressEvent::Note {
                    message: format!(
                        "{}: {coverage} of {} tracks",
                        modality.name(),
                        dataset.num_items()
                    ),
                });
            }
            let (model, summary) =
                fit(prepared, &dataset, &options, &device, &progress).map_err(|e| match e {
                    segue_core::Error::Cancelled => anyhow::anyhow!("training cancelled; nothing was saved"),
                    e => e.into(),
                })?;
            let extra = CheckpointExtra {
                rules,
                split: match args.split {
                    TrainSplit::All => "all",
                    TrainSplit::Paper => "paper",
                }
                .to_owned(),
                modalities,
                device: device.label.clone(),
                trained_at: chrono::Utc::now().timestamp(),
            };
            save_model(
                &dir,
                &spec,
                architecture,
                &model,
                &dataset.tracks,
                &options,
                summary.clone(),
                extra,
            )?;
            if cli.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "model": spec, "checkpoint": dir, "summary": summary,
                        "tracks": dataset.num_items(), "device": device.label,
                    }))?
                );
            } else {
                println!(
                    "trained {spec} on {} tracks ({} examples): {} epochs, kept epoch {} (validation HR@10 {}), {:.1} s on {}",
                    dataset.num_items(),
                    summary.examples,
                    summary.epochs,
                    summary.best_epoch,
                    summary
                        .best_validation_hit_ratio_10
                        .map_or_else(|| "-".to_owned(), |h| format!("{h:.4}")),
                    summary.seconds,
                    device.label
                );
                println!("saved to {}", dir.display());
            }
            Ok(())
        }
        Command::Recommend(args) => {
            let backend = args.backend.as_deref().unwrap_or(&settings.backend).parse()?;
            let device = compute_device(backend, &segue_core::progress::NoProgress)?;
            let dir = find_checkpoint(args.model.as_deref())?;
            let model = load_model(&dir, &device)?;
            let user = resolve_user(store, args.user.as_deref()).await?;
            let history = match args.history.as_str() {
                "last-session" => HistorySpec::LastSession,
                list => HistorySpec::Tracks(
                    list.split(',')
                        .map(|id| {
                            id.trim()
                                .parse::<i64>()
                                .map(TrackId)
                                .with_context(|| format!("'{id}' in --history is not a track id"))
                        })
                        .collect::<Result<Vec<_>>>()?,
                ),
            };
            let rules = model.extra.as_ref().map_or(settings.sessions, |e| e.rules);
            let recommendation =
                recommend(store, &model, user, &history, args.k, args.no_repeat, rules).await?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&recommendation)?);
            } else {
                println!("model {} ({}), after:", recommendation.model, dir.display());
                for item in &recommendation.history {
                    let mark = if item.known { " " } else { "?" };
                    println!(
                        "  {mark} {:>8}  {} – {}",
                        item.track.id.0, item.track.artist, item.track.title
                    );
                }
                println!("next:");
                for s in &recommendation.suggestions {
                    println!(
                        "  {:>2}. {:>8}  {} – {}  ({:.3})",
                        s.rank, s.track.id.0, s.track.artist, s.track.title, s.score
                    );
                }
            }
            Ok(())
        }
        Command::Features(FeaturesCommand::Tags { from_30music, tsv }) => {
            let report = import_30music_tags(store, from_30music, tsv).await?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "{} of {} sessions aligned ({} of other lengths, {} unknown); {} items with tags, {} tracks tagged, {} tags written, {} conflicts",
                    report.aligned_sessions,
                    report.sessions,
                    report.misaligned_sessions,
                    report.unknown_sessions,
                    report.items_with_tags,
                    report.tracks_tagged,
                    report.tags_written,
                    report.conflicts
                );
            }
            Ok(())
        }
        Command::Export(ExportCommand::Sessions { split, out, rules }) => {
            let user = resolve_user(store, rules.user.as_deref()).await?;
            let sessions = split_sessions(store, rules.rules(settings), user).await?;
            let chosen: Vec<&segue_core::sessions::Session> = match split {
                SplitPart::Train => sessions.train.iter().collect(),
                SplitPart::Test => sessions.test.iter().collect(),
                SplitPart::All => sessions.train.iter().chain(&sessions.test).collect(),
            };
            let mut text = String::new();
            for session in &chosen {
                let line: Vec<String> = session.tracks.iter().map(|t| t.0.to_string()).collect();
                text.push_str(&line.join(" "));
                text.push('\n');
            }
            std::fs::write(out, text).with_context(|| format!("cannot write {}", out.display()))?;
            eprintln!("wrote {} sessions to {}", chosen.len(), out.display());
            Ok(())
        }
        Command::Embeddings(EmbeddingsCommand::Lsa {
            out,
            components,
            rules,
        }) => {
            let user = resolve_user(store, rules.user.as_deref()).await?;
            let dataset = build_dataset(store, rules.rules(settings), user).await?;
            let config = LsaConfig {
                components: *components,
                ..LsaConfig::default()
            };
            let vectors = tokio::task::block_in_place(|| train_lsa_vectors(&dataset, &config))?;
            vectors.save_text(out)?;
            eprintln!(
                "wrote {} LSA vectors of {} dimensions to {}",
                vectors.len(),
                vectors.dim(),
                out.display()
            );
            Ok(())
        }
        Command::Embeddings(EmbeddingsCommand::W2v { out, word2vec, rules }) => {
            let user = resolve_user(store, rules.user.as_deref()).await?;
            let dataset = build_dataset(store, rules.rules(settings), user).await?;
            let config = word2vec.config();
            let (vectors, seconds) = tokio::task::block_in_place(|| train_track_vectors(&dataset, &config))?;
            vectors.save_text(out)?;
            eprintln!(
                "trained {} vectors of {} dimensions in {seconds:.2} s; wrote {}",
                vectors.len(),
                vectors.dim(),
                out.display()
            );
            Ok(())
        }
        Command::Users => {
            let users = store.users().await?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&users)?);
            } else {
                for user in users {
                    println!("{:<24} {:>10} listens", user.name, user.listens);
                }
            }
            Ok(())
        }
        Command::Imports { run: Some(run), .. } => {
            let problems = segue_core::import::run_problems(store, *run).await?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&problems)?);
            } else {
                for problem in problems {
                    println!("{}: {}", problem.location, problem.reason);
                }
            }
            Ok(())
        }
        Command::Imports { limit, run: None } => {
            let runs = segue_core::import::recent_runs(store, *limit).await?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&runs)?);
            } else {
                for run in runs {
                    println!(
                        "#{:<4} {:<9} {:<18} {:<10} +{} listens, {} duplicates, {} problems  {}",
                        run.id,
                        run.kind,
                        run.format,
                        run.status,
                        run.counts.listens_added,
                        run.counts.duplicates,
                        run.counts.malformed + run.counts.bad_timestamps,
                        run.target
                    );
                }
            }
            Ok(())
        }
    }
}

async fn resolve_user(store: &Store, name: Option<&str>) -> Result<Option<segue_core::UserId>> {
    match name {
        Some(name) => Ok(Some(store.require_user(name).await?)),
        None => Ok(None),
    }
}

fn cancel_on_ctrl_c() -> CancelFlag {
    let cancel = CancelFlag::default();
    let flag = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("stopping after the current batch…");
            flag.cancel();
        }
    });
    cancel
}

fn print_eval_table(table: &EvalTable) {
    let d = &table.dataset;
    println!(
        "{} users, {} train / {} test sessions, {} tracks in the vocabulary, {} predictions",
        d.users, d.train_sessions, d.test_sessions, d.items, d.predictions
    );
    let header = format!(
        "{:<28} {:>7} {:>7} {:>7} {:>7} {:>7} {:>9} {:>9}",
        "model", "HR@1", "HR@5", "HR@10", "HR@20", "MRR@20", "fit s", "rank s"
    );
    println!("{header}");
    for row in &table.rows {
        let m = &row.metrics;
        println!(
            "{:<28} {:>7.4} {:>7.4} {:>7.4} {:>7.4} {:>7.4} {:>9.2} {:>9.2}",
            row.model, m.hr1, m.hr5, m.hr10, m.hr20, m.mrr20, row.fit_seconds, row.eval_seconds
        );
    }
    if let Some(first) = table.rows.first() {
        println!(
            "(unseen targets {} and empty inputs {} of {} predictions: misses, and ranked by POP)",
            first.metrics.unseen_targets, first.metrics.empty_inputs, first.metrics.predictions
        );
        for group in first.groups.keys() {
            println!("\ngroup {group}");
            println!("{header}");
            for row in &table.rows {
                if let Some(m) = row.groups.get(group) {
                    println!(
                        "{:<28} {:>7.4} {:>7.4} {:>7.4} {:>7.4} {:>7.4} {:>9} {:>9}",
                        row.model, m.hr1, m.hr5, m.hr10, m.hr20, m.mrr20, "", ""
                    );
                }
            }
        }
    }
}

fn format_time(secs: Option<i64>) -> String {
    secs.and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map_or_else(|| "-".to_owned(), |t| t.format("%Y-%m-%d %H:%M").to_string())
}

fn print_report(report: &ImportReport) {
    let c = &report.counts;
    let resumed = if report.resumed_at > 0 {
        format!(" (resumed at {})", report.resumed_at)
    } else {
        String::new()
    };
    println!("{} [{}]{resumed}", report.source, report.format);
    println!(
        "  {} records: {} listens added, {} already present, {} not listens, {} bad timestamps, {} malformed",
        c.records, c.listens_added, c.duplicates, c.not_listens, c.bad_timestamps, c.malformed
    );
    let shown = report.problems.iter().take(10);
    for problem in shown {
        println!("  {}: {}: {}", report.source, problem.location, problem.reason);
    }
    let total_problems = c.bad_timestamps + c.malformed;
    if total_problems > 10 {
        println!(
            "  … {} more problems (`segue-cli imports --run {}` lists the first {})",
            total_problems - 10,
            report.run_id,
            segue_core::import::MAX_PROBLEMS_STORED
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
