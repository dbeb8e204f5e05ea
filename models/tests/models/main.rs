//! Integration tests of `segue-models`: one binary, modules per area.

mod helpers;
mod word2vec_reference;
