//! Helpers shared by the end-to-end tests: locating the built binaries,
//! running the CLI against a library in a temporary folder, and generating
//! input files whose content the tests know exactly.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The folder holding the workspace's built binaries (`target/debug`).
///
/// Integration tests run from `target/debug/deps/`, so the binaries are one
/// level up. The test command builds them first (`cargo build --workspace --bins`).
pub fn binaries_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target directory")
        .to_path_buf()
}

/// The path of a built binary, with a clear failure when it was not built.
pub fn binary(name: &str) -> PathBuf {
    let path = binaries_dir().join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --workspace --bins` before the end-to-end tests",
        path.display()
    );
    path
}

/// A library folder in which the CLI runs with its own data, config and cache.
pub struct CliLibrary {
    pub dir: tempfile::TempDir,
}

impl Default for CliLibrary {
    fn default() -> Self {
        Self::new()
    }
}

impl CliLibrary {
    pub fn new() -> CliLibrary {
        CliLibrary {
            dir: tempfile::tempdir().expect("temporary folder"),
        }
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("library.sqlite")
    }

    /// A `segue-cli` command bound to this library.
    pub fn command(&self) -> Command {
        let mut command = Command::new(binary("segue-cli"));
        command
            .env("SEGUE_DB", self.db())
            .env("SEGUE_DATA_DIR", self.dir.path())
            .env("XDG_DATA_HOME", self.dir.path().join("data"))
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("XDG_CACHE_HOME", self.dir.path().join("cache"))
            .env_remove("LASTFM_API_KEY");
        command
    }

    /// Runs the CLI with `args`, asserting success, and returns stdout.
    pub fn run(&self, args: &[&str]) -> String {
        let output = self.command().args(args).output().expect("run segue-cli");
        assert_success(&output, args);
        String::from_utf8(output.stdout).expect("UTF-8 output")
    }

    /// Runs the CLI with `--json` and parses its output.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let stdout = self.run(&all);
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {stdout}"))
    }
}

/// A child process that is killed (SIGKILL) and reaped when dropped, so a
/// failing test leaves no process behind.
pub struct KilledOnDrop(pub std::process::Child);

impl KilledOnDrop {
    /// Kills the process now (SIGKILL on Unix) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for KilledOnDrop {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Panics with the command's output when it failed.
pub fn assert_success(output: &Output, args: &[&str]) {
    assert!(
        output.status.success(),
        "segue-cli {args:?} failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// One listen of a generated Last.fm-1K file, as the file states it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GeneratedListen {
    pub user: String,
    pub played_at: i64,
    pub artist: String,
    pub title: String,
}

/// Writes a Last.fm-1K-style TSV of `users` × `per_user` listens (a small
/// catalogue with repeats, newest first per user, as the data set is) and
/// returns the listens it contains.
pub fn write_lastfm_1k(path: &Path, users: usize, per_user: usize) -> BTreeSet<GeneratedListen> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create TSV"));
    let mut listens = BTreeSet::new();
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        // xorshift64: deterministic and dependency-free.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for user in 0..users {
        let name = format!("user_{user:06}");
        let mut time = 1_240_000_000 + (user as i64) * 1000;
        let mut rows = Vec::with_capacity(per_user);
        for _ in 0..per_user {
            time += 150 + (next() % 300) as i64 + if next() % 40 == 0 { 9000 } else { 0 };
            let track = next() % 2000;
            let artist = format!("Artist {}", track / 8);
            let title = format!("Track {track}");
            let timestamp = format_iso(time);
            rows.push(format!("{name}\t{timestamp}\t\t{artist}\t\t{title}\n"));
            listens.insert(GeneratedListen {
                user: name.clone(),
                played_at: time,
                artist,
                title,
            });
        }
        for row in rows.iter().rev() {
            out.write_all(row.as_bytes()).expect("write TSV");
        }
    }
    out.flush().expect("flush TSV");
    listens
}

/// Formats UTC seconds as "YYYY-MM-DDTHH:MM:SSZ" (civil-from-days, Howard Hinnant).
pub fn format_iso(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso_dates_are_civil_dates() {
        assert_eq!(super::format_iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::format_iso(1_241_478_537), "2009-05-04T23:08:57Z");
        assert_eq!(super::format_iso(951_782_400), "2000-02-29T00:00:00Z");
    }
}
