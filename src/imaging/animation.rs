//! Animated image writers (being written).
