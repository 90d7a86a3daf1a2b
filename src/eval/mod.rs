//! Evaluation: metrics and the method comparison.

pub mod metrics;
