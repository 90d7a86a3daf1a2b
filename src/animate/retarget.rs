//! Retargeting a driver's motion onto the photo's person (being written).
