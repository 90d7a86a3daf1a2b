//! The bottom layer: small helpers with no dependency on the rest of the crate, so any module
//! may use them without importing upwards.

pub mod fs;
pub mod rng;
