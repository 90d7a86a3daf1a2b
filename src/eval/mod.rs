//! Evaluation: image/flow/mask metrics ([`metrics`]) and the comparison of methods on held-out
//! synthetic pairs ([`compare`]).

pub mod compare;
pub mod metrics;
