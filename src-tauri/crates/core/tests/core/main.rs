//! Integration tests of `segue-core`: one binary, modules per area, shared helpers.

mod helpers;

mod eval_harness;
mod import_files;
mod lastfm_api;
mod sessions_split;
