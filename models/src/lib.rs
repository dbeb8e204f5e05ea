//! Segue learning code (filled by the embeddings issue).
