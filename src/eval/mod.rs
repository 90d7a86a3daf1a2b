//! Evaluation: image/flow/mask metrics ([`metrics`]) and the comparison of methods on held-out
//! synthetic pairs ([`compare`]), the composites' error by what they show ([`shows`]) and
//! their invented cloth's texture against its garment's ([`garment`]),
//! background plates against the true background ([`plate`]).

pub mod compare;
pub mod garment;
pub mod metrics;
pub mod plate;
pub mod shows;
