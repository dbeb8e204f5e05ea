//! `segue`: the desktop app.
//!
//! This is the only crate that imports `tauri`. Commands stay thin: they
//! parse what the web view sends, call `segue-core`, and map results to DTOs;
//! errors reach the UI as `{code, message}`. Long work streams progress over
//! a `tauri::ipc::Channel`.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod state;

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SEGUE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let state = match tauri::async_runtime::block_on(state::AppState::open()) {
        Ok(state) => state,
        Err(e) => {
            eprintln!("error[{}]: Segue cannot open its library: {e}", e.code());
            std::process::exit(1);
        }
    };
    let result = tauri::Builder::default()
        .manage(state)
        .invoke_handler(tauri::generate_handler![
            commands::library_stats,
            commands::import_files,
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("error: Segue stopped: {e}");
        std::process::exit(1);
    }
}
