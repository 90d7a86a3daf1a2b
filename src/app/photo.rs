//! The photo being edited, shared by the editor's workers.

use image::RgbImage;
use std::path::PathBuf;

/// A photo as loaded, with an id that changes whenever a different photo is opened (the
/// source-feature cache is keyed by it, not by comparing pixels).
#[derive(Debug)]
pub struct Photo {
    pub id: u64,
    pub path: Option<PathBuf>,
    pub image: RgbImage,
}
