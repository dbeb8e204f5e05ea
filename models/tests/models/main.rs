//! Integration tests of `segue-models`: one binary, modules per area.

mod backends;
mod helpers;
mod neural;
mod word2vec_reference;
