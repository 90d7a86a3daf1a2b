//! A person matte: f32 alpha in [0, 1] for every photo pixel (1 = the person).
//!
//! It lives in `imaging`, not in `detect`, because its consumers (compositing, the editor,
//! the command line) only need a photo-sized alpha field, not the detector: `detect` makes one
//! (from BlazePose's segmentation output) and depends on `imaging`, never the reverse.

use anyhow::{bail, Result};
use image::{GrayImage, RgbImage};

use super::guided::{guided_filter_gray, GuidedParams};

/// Alpha at photo resolution, row-major, `width * height` values in [0, 1].
#[derive(Clone, Debug, PartialEq)]
pub struct Matte {
    width: u32,
    height: u32,
    alpha: Vec<f32>,
}

impl Matte {
    /// A matte from its values; they are clamped to [0, 1] (NaN becomes 0).
    pub fn new(width: u32, height: u32, mut alpha: Vec<f32>) -> Result<Self> {
        if alpha.len() != width as usize * height as usize {
            bail!(
                "a {width}x{height} matte needs {} values, got {}",
                width as usize * height as usize,
                alpha.len()
            );
        }
        for a in &mut alpha {
            *a = if a.is_nan() { 0.0 } else { a.clamp(0.0, 1.0) };
        }
        Ok(Self {
            width,
            height,
            alpha,
        })
    }

    /// All background.
    pub fn zeros(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            alpha: vec![0.0; width as usize * height as usize],
        }
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    pub fn dimensions(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// The values, row-major.
    pub fn alpha(&self) -> &[f32] {
        &self.alpha
    }

    /// Alpha at pixel `(x, y)`, or `None` outside the matte.
    pub fn get(&self, x: u32, y: u32) -> Option<f32> {
        (x < self.width && y < self.height)
            .then(|| self.alpha[y as usize * self.width as usize + x as usize])
    }

    /// Grey picture: 0 → black, 1 → white (rounded to 8 bits).
    pub fn to_image(&self) -> GrayImage {
        let bytes = self
            .alpha
            .iter()
            .map(|a| (a * 255.0).round() as u8)
            .collect();
        GrayImage::from_raw(self.width, self.height, bytes).expect("width*height values")
    }

    /// Fraction of pixels above `threshold`.
    pub fn coverage(&self, threshold: f32) -> f32 {
        if self.alpha.is_empty() {
            return 0.0;
        }
        let n = self.alpha.iter().filter(|&&a| a > threshold).count();
        n as f32 / self.alpha.len() as f32
    }

    /// Intersection over union of the two mattes thresholded at `threshold`; `None` when
    /// the sizes differ, 1 when both are empty.
    pub fn iou(&self, other: &Matte, threshold: f32) -> Option<f32> {
        if self.dimensions() != other.dimensions() {
            return None;
        }
        let (mut inter, mut union) = (0usize, 0usize);
        for (&a, &b) in self.alpha.iter().zip(&other.alpha) {
            let (a, b) = (a > threshold, b > threshold);
            inter += usize::from(a && b);
            union += usize::from(a || b);
        }
        Some(if union == 0 {
            1.0
        } else {
            inter as f32 / union as f32
        })
    }

    /// Edges refined at photo resolution by a guided filter with the photo (grey) as guide:
    /// alpha edges snap to the photo's edges instead of the blur of the upsampled mask. The
    /// photo must have the matte's size.
    pub fn refined(&self, photo: &RgbImage, params: GuidedParams) -> Result<Matte> {
        if photo.dimensions() != self.dimensions() {
            bail!(
                "the guide photo is {}x{}, the matte {}x{}",
                photo.width(),
                photo.height(),
                self.width,
                self.height
            );
        }
        let alpha = guided_filter_gray(photo, &self.alpha, params);
        Matte::new(self.width, self.height, alpha)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_and_clamped() {
        assert!(Matte::new(2, 2, vec![0.0; 3]).is_err());
        let m = Matte::new(2, 1, vec![1.5, f32::NAN]).unwrap();
        assert_eq!(m.alpha(), &[1.0, 0.0]);
        assert_eq!(m.get(0, 0), Some(1.0));
        assert_eq!(m.get(2, 0), None);
        assert_eq!(m.to_image().as_raw(), &vec![255, 0]);
    }

    #[test]
    fn iou_and_coverage() {
        let a = Matte::new(4, 1, vec![1.0, 1.0, 0.0, 0.0]).unwrap();
        let b = Matte::new(4, 1, vec![0.0, 1.0, 1.0, 0.0]).unwrap();
        assert_eq!(a.iou(&b, 0.5), Some(1.0 / 3.0));
        assert_eq!(a.iou(&a, 0.5), Some(1.0));
        assert_eq!(a.coverage(0.5), 0.5);
        assert_eq!(a.iou(&Matte::zeros(2, 2), 0.5), None);
    }
}
