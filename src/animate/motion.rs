//! Pose sequences from disk (being written).
