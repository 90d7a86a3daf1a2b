//! Procedural synthetic people with exact ground-truth flow and visibility (helper writing).
