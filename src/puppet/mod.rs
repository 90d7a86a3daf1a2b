//! The puppet warp baseline (helper writing).
