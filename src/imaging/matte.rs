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

    /// The matte's person only: the region of confident alpha (≥ [`ATTACHED_CORE`]) connected
    /// to one of `seeds` (the skeleton's joints, photo pixels), with its soft edge out to
    /// [`attached_edge`] pixels, fading to nothing over as many again. The landmark model's
    /// segmentation also marks, weakly, things beside the person — a held camera's smear out
    /// to the skyline, a helmet on the table — and each such pixel becomes plate where the
    /// person moves away from it (grass in the sky). Seeds on no confident pixel are ignored;
    /// with none at all the matte is returned as it is.
    pub fn attached(&self, seeds: &[(f32, f32)]) -> Matte {
        let (w, h) = (self.width as usize, self.height as usize);
        let core = |i: usize| self.alpha[i] >= ATTACHED_CORE;
        let mut person = vec![false; w * h];
        let mut stack: Vec<usize> = seeds
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite() && *x >= 0.0 && *y >= 0.0)
            .map(|&(x, y)| (x.round() as usize, y.round() as usize))
            .filter(|&(x, y)| x < w && y < h && core(y * w + x))
            .map(|(x, y)| y * w + x)
            .collect();
        if stack.is_empty() {
            return self.clone();
        }
        for &i in &stack {
            person[i] = true;
        }
        while let Some(i) = stack.pop() {
            for j in super::neighbours4(i, w, h) {
                if !person[j] && core(j) {
                    person[j] = true;
                    stack.push(j);
                }
            }
        }
        let dist = chamfer_distance(&person, w, h);
        let edge = attached_edge(w, h);
        let alpha = self
            .alpha
            .iter()
            .zip(&dist)
            .map(|(&a, &d)| a * (1.0 - (d - edge) / edge).clamp(0.0, 1.0))
            .collect();
        Matte {
            width: self.width,
            height: self.height,
            alpha,
        }
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

/// Alpha at and above which a pixel is surely the person or something the segmentation is sure
/// of ([`Matte::attached`]).
pub const ATTACHED_CORE: f32 = 0.8;

/// How far (pixels) a soft edge may reach past the confident person before it starts to fade:
/// 2 % of the photo's longer side (10 px at 512, 22 at 1080), at least 2.
pub fn attached_edge(w: usize, h: usize) -> f32 {
    (0.02 * w.max(h) as f32).max(2.0)
}

/// Distance (pixels, 3-4 chamfer: 1 along a row or column, √2 along a diagonal) from every
/// pixel to the nearest `inside` one; infinite when there is none.
fn chamfer_distance(inside: &[bool], w: usize, h: usize) -> Vec<f32> {
    const DIAG: f32 = std::f32::consts::SQRT_2;
    let mut d: Vec<f32> = inside
        .iter()
        .map(|&v| if v { 0.0 } else { f32::INFINITY })
        .collect();
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let mut v = d[i];
            if x > 0 {
                v = v.min(d[i - 1] + 1.0);
            }
            if y > 0 {
                v = v.min(d[i - w] + 1.0);
                if x > 0 {
                    v = v.min(d[i - w - 1] + DIAG);
                }
                if x + 1 < w {
                    v = v.min(d[i - w + 1] + DIAG);
                }
            }
            d[i] = v;
        }
    }
    for y in (0..h).rev() {
        for x in (0..w).rev() {
            let i = y * w + x;
            let mut v = d[i];
            if x + 1 < w {
                v = v.min(d[i + 1] + 1.0);
            }
            if y + 1 < h {
                v = v.min(d[i + w] + 1.0);
                if x + 1 < w {
                    v = v.min(d[i + w + 1] + DIAG);
                }
                if x > 0 {
                    v = v.min(d[i + w - 1] + DIAG);
                }
            }
            d[i] = v;
        }
    }
    d
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

    /// A person (a confident disc with a soft rim), a confident blob apart from it and a
    /// weak smear reaching out from it: only the person and its rim stay.
    #[test]
    fn attached_keeps_the_person_and_drops_what_only_touches_it_weakly() {
        let (w, h) = (200usize, 100usize);
        let alpha: Vec<f32> = (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f32, (i / w) as f32);
                let r = (x - 50.0).hypot(y - 50.0);
                if r < 30.0 {
                    1.0
                } else if r < 33.0 {
                    0.5 // the person's soft rim
                } else if (x - 160.0).hypot(y - 50.0) < 10.0 {
                    0.9 // a confident blob apart
                } else if (80.0..150.0).contains(&x) && (45.0..55.0).contains(&y) {
                    0.4 // a weak smear from the person to the blob
                } else {
                    0.0
                }
            })
            .collect();
        let m = Matte::new(w as u32, h as u32, alpha).unwrap();
        let a = m.attached(&[(50.0, 50.0), (-3.0, f32::NAN)]);
        let at = |x: u32, y: u32| a.get(x, y).unwrap();
        assert_eq!(at(50, 50), 1.0);
        assert_eq!(at(81, 50), 0.5, "the rim is within the edge's reach");
        assert_eq!(at(160, 50), 0.0, "the blob apart stays");
        assert_eq!(at(140, 50), 0.0, "the far smear stays");
        // Within the edge's reach (4 px here) the smear is kept, fading to nothing by twice it.
        assert_eq!(attached_edge(w, h), 4.0);
        assert_eq!(at(83, 50), 0.4);
        assert!(at(86, 50) < 0.4 && at(86, 50) > 0.0);
        assert_eq!(at(89, 50), 0.0);
        // No seed on the person: the matte as it was.
        assert_eq!(m.attached(&[(5.0, 5.0)]), m);
        assert_eq!(m.attached(&[]), m);
    }

    #[test]
    fn chamfer_distance_is_exact_along_rows_and_diagonals() {
        let mut inside = vec![false; 7 * 5];
        inside[2 * 7 + 3] = true;
        let d = chamfer_distance(&inside, 7, 5);
        assert_eq!(d[2 * 7 + 3], 0.0);
        assert_eq!(d[2 * 7 + 6], 3.0);
        assert!((d[4 * 7 + 5] - 2.0 * std::f32::consts::SQRT_2).abs() < 1e-6);
        assert!(chamfer_distance(&[false; 4], 2, 2)
            .iter()
            .all(|v| v.is_infinite()));
    }
}
