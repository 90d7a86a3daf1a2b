//! Evaluation: image/flow/mask metrics ([`metrics`]) and the comparison of methods on held-out
//! synthetic pairs ([`compare`]) over the person region's parts ([`part`]), the composites' error by what they show ([`shows`]) and
//! their invented cloth's texture against its garment's ([`garment`]),
//! background plates against the true background ([`plate`]).

pub mod compare;
pub mod garment;
pub mod metrics;
pub mod part;
pub mod plate;
pub mod shows;
