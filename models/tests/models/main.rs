//! Integration tests of `segue-models`: one binary, modules per area.

mod backends;
mod helpers;
mod neural;
mod vae;
mod word2vec_reference;
