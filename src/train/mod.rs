//! Training (in progress).
