//! Evaluation: image/flow/mask metrics ([`metrics`]) and the comparison of methods on held-out
//! synthetic pairs ([`compare`]), background plates against the true background ([`plate`]).

pub mod compare;
pub mod metrics;
pub mod plate;
