//! Image, flow and mask metrics (helper writing).
