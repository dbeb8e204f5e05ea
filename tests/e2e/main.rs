//! End-to-end tests of Segue's binaries on generated fixtures.

mod cli_eval;
mod cli_import;
mod cli_train;
