//! Photo → network input tensors: the detector's letterboxed square and the landmark model's
//! rotated square around the person (MediaPipe's `ImageToTensorCalculator`, CPU path).
//!
//! MediaPipe warps the 8-bit image with OpenCV (`warpPerspective`, bilinear), which works in
//! fixed point: sample positions are rounded to 1/32 pixel and the result is rounded back to
//! 8 bits before the float conversion. The sampler here does the same two roundings: on the
//! reference photo that reproduces MediaPipe's detector input exactly and all but 24 of the
//! landmark input's 196608 values, where a plain float bilinear sampler is off by ~1e-3 on
//! average and by a few 8-bit levels at worst (numbers in `tests/detect_pipeline.rs`).

use image::RgbImage;
use rayon::prelude::*;

use super::decode::{PersonDetection, DETECTOR_INPUT};

/// Side of the (square) landmark model input in pixels.
pub const LANDMARK_INPUT: usize = 256;

/// Sub-pixel steps per pixel of OpenCV's bilinear warp (`INTER_TAB_SIZE`, 5 bits).
const SUBPIXEL_STEPS: f64 = 32.0;
/// Sample positions are clamped to this many pixels (OpenCV clamps to `int` range): far
/// enough outside any image that only the border rule matters, small enough for exact maths.
const COORD_LIMIT: f64 = 1.0e7;
/// Scale of the ROI side over the detector's body-circle diameter (MediaPipe `scale_x/y`).
const ROI_SCALE: f32 = 1.25;

/// Maps tensor pixel `(u, v)` to image pixel `(m[0]·(u, v, 1), m[1]·(u, v, 1))`, pixel centres
/// at integer coordinates on both sides (MediaPipe adds no half-pixel offset).
type Affine = [[f32; 3]; 2];

/// How samples outside the image are filled.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Border {
    /// Black (the detector's letterbox bars, which become -1.0).
    Zero,
    /// The nearest edge pixel (the landmark crop, whose square often leaves the photo).
    Replicate,
}

/// The detector's view of a photo: the whole image centred in a square of side
/// `L = max(W, H)`, the rest padded black.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Letterbox {
    /// Padding as fractions of the square, (left, top, right, bottom): the image fills
    /// `[l, 1 - r] x [t, 1 - b]` of the detector input. Undo with
    /// [`super::decode::remove_letterbox`].
    pub pad_ltrb: [f32; 4],
    /// Side `L` of the square, in image pixels.
    pub side: f32,
    /// Image position of the square's top-left corner (negative along the padded axis).
    pub origin: [f32; 2],
}

impl Letterbox {
    /// The letterbox of a `width x height` image.
    pub fn for_image(width: u32, height: u32) -> Letterbox {
        let (w, h) = (width as f32, height as f32);
        let side = w.max(h);
        let pad = |extent: f32| {
            if side > 0.0 {
                (1.0 - extent / side) / 2.0
            } else {
                0.0
            }
        };
        let (px, py) = (pad(w), pad(h));
        Letterbox {
            pad_ltrb: [px, py, px, py],
            side,
            origin: [(w - side) / 2.0, (h - side) / 2.0],
        }
    }

    /// Detector-tensor pixel → image pixel, as a 2x3 matrix (`x = m[0]·(u, v, 1)`).
    pub fn tensor_to_image_affine(&self) -> [[f32; 3]; 2] {
        let s = self.side / DETECTOR_INPUT as f32;
        [[s, 0.0, self.origin[0]], [0.0, s, self.origin[1]]]
    }
}

/// The detector input for a photo: `224 x 224 x 3` NHWC values `px / 127.5 - 1` of the
/// letterboxed square, and its padding fractions (l, t, r, b).
pub fn detector_input(img: &RgbImage) -> (Vec<f32>, [f32; 4]) {
    let letterbox = Letterbox::for_image(img.width(), img.height());
    let affine = letterbox.tensor_to_image_affine();
    let mut out = vec![0.0; DETECTOR_INPUT * DETECTOR_INPUT * 3];
    warp(img, &affine, DETECTOR_INPUT, Border::Zero, &mut out, |px| {
        px / 127.5 - 1.0
    });
    (out, letterbox.pad_ltrb)
}

/// The landmark model's crop: a square of `side` pixels centred on `(cx, cy)` and rotated by
/// `rotation` (radians, clockwise on screen since y points down), so the person stands
/// upright in it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Roi {
    pub cx: f32,
    pub cy: f32,
    pub side: f32,
    pub rotation: f32,
}

impl Roi {
    /// MediaPipe's ROI from a detection in image-normalised coordinates: centred on the hip
    /// midpoint (keypoint 0), side 2.5 x the body-circle radius `|kp1 - kp0|`, rotated so the
    /// hip → full-body-point direction points up. All in pixels, so the crop stays square on
    /// non-square photos.
    pub fn from_detection(det: &PersonDetection, width: u32, height: u32) -> Roi {
        let (w, h) = (width as f32, height as f32);
        let [x0, y0] = det.keypoints[0];
        let [x1, y1] = det.keypoints[1];
        let (cx, cy) = (x0 * w, y0 * h);
        let (dx, dy) = (x1 * w - cx, y1 * h - cy);
        let side = 2.0 * (dx * dx + dy * dy).sqrt() * ROI_SCALE;
        let angle = std::f32::consts::FRAC_PI_2 - (-dy).atan2(dx);
        Roi {
            cx,
            cy,
            side,
            rotation: normalize_radians(angle),
        }
    }

    /// Crop-normalised `(u, v)` (0..1 across the square, before rotation) → image pixels.
    pub fn to_image(&self, u: f32, v: f32) -> (f32, f32) {
        let (sin, cos) = self.rotation.sin_cos();
        let (du, dv) = ((u - 0.5) * self.side, (v - 0.5) * self.side);
        (self.cx + du * cos - dv * sin, self.cy + du * sin + dv * cos)
    }

    /// Landmark-tensor pixel → image pixel, as a 2x3 matrix (`x = m[0]·(u, v, 1)`); the same
    /// map as [`Roi::to_image`] of `(u / 256, v / 256)`.
    pub fn tensor_to_image_affine(&self) -> [[f32; 3]; 2] {
        let (sin, cos) = self.rotation.sin_cos();
        let s = self.side / LANDMARK_INPUT as f32;
        let (origin_x, origin_y) = self.to_image(0.0, 0.0);
        [[s * cos, -s * sin, origin_x], [s * sin, s * cos, origin_y]]
    }
}

/// Maps an angle to [-pi, pi), as MediaPipe's `NormalizeRadians` (in f64, like its C++).
fn normalize_radians(angle: f32) -> f32 {
    use std::f64::consts::PI;
    let a = angle as f64;
    (a - 2.0 * PI * ((a + PI) / (2.0 * PI)).floor()) as f32
}

/// The landmark model input: `256 x 256 x 3` NHWC values `px / 255` of the ROI, with the
/// photo's edge pixels repeated where the square leaves it.
pub fn landmark_input(img: &RgbImage, roi: &Roi) -> Vec<f32> {
    let affine = roi.tensor_to_image_affine();
    let mut out = vec![0.0; LANDMARK_INPUT * LANDMARK_INPUT * 3];
    warp(
        img,
        &affine,
        LANDMARK_INPUT,
        Border::Replicate,
        &mut out,
        |px| px / 255.0,
    );
    out
}

/// Fills `out` (`n x n x 3`, NHWC) with `convert(bilinear sample)` at `affine(u, v)` for every
/// tensor pixel. An empty image has nothing to sample: the output is `convert(0)` throughout.
fn warp(
    img: &RgbImage,
    affine: &Affine,
    n: usize,
    border: Border,
    out: &mut [f32],
    convert: impl Fn(f32) -> f32 + Sync,
) {
    if img.width() == 0 || img.height() == 0 {
        out.fill(convert(0.0));
        return;
    }
    let m = affine.map(|row| row.map(f64::from));
    out.par_chunks_mut(n * 3).enumerate().for_each(|(v, row)| {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("sse4.1") {
            // SAFETY: the CPU was just checked to have SSE4.1.
            return unsafe { warp_row_sse41(img, &m, v, border, row, &convert) };
        }
        warp_row(img, &m, v, border, row, &convert)
    });
}

/// [`warp_row`] compiled with SSE4.1, whose rounding instructions replace the library calls
/// that `round` costs on baseline x86-64 (most of this function's time).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.1")]
fn warp_row_sse41(
    img: &RgbImage,
    m: &[[f64; 3]; 2],
    v: usize,
    border: Border,
    row: &mut [f32],
    convert: &(impl Fn(f32) -> f32 + Sync),
) {
    warp_row(img, m, v, border, row, convert)
}

/// One tensor row `v` of [`warp`].
#[inline(always)]
fn warp_row(
    img: &RgbImage,
    m: &[[f64; 3]; 2],
    v: usize,
    border: Border,
    row: &mut [f32],
    convert: &(impl Fn(f32) -> f32 + Sync),
) {
    let v = v as f64;
    for (u, texel) in row.chunks_exact_mut(3).enumerate() {
        let u = u as f64;
        let x = m[0][0] * u + m[0][1] * v + m[0][2];
        let y = m[1][0] * u + m[1][1] * v + m[1][2];
        let rgb = sample_bilinear(img, x, y, border);
        for (t, px) in texel.iter_mut().zip(rgb) {
            *t = convert(px);
        }
    }
}

/// OpenCV-style 8-bit bilinear sample at image position `(x, y)`: the position is rounded to
/// 1/32 pixel and the result to an integer level, as `warpPerspective` on `CV_8UC3` does.
#[inline(always)]
fn sample_bilinear(img: &RgbImage, x: f64, y: f64, border: Border) -> [f32; 3] {
    let (x0, fx) = quantize(x);
    let (y0, fy) = quantize(y);
    let p00 = pixel(img, x0, y0, border);
    let p10 = pixel(img, x0 + 1, y0, border);
    let p01 = pixel(img, x0, y0 + 1, border);
    let p11 = pixel(img, x0 + 1, y0 + 1, border);
    std::array::from_fn(|c| {
        let top = p00[c] * (1.0 - fx) + p10[c] * fx;
        let bottom = p01[c] * (1.0 - fx) + p11[c] * fx;
        (top * (1.0 - fy) + bottom * fy).round()
    })
}

/// Integer pixel and fraction (a multiple of 1/32) of a sample coordinate. NaN becomes 0 and
/// huge values are clamped, so the integer maths below cannot overflow.
#[inline(always)]
fn quantize(coord: f64) -> (i64, f32) {
    let steps = (coord.clamp(-COORD_LIMIT, COORD_LIMIT) * SUBPIXEL_STEPS).round() as i64;
    let whole = steps.div_euclid(SUBPIXEL_STEPS as i64);
    let frac = steps.rem_euclid(SUBPIXEL_STEPS as i64) as f32 / SUBPIXEL_STEPS as f32;
    (whole, frac)
}

/// The image pixel at integer `(x, y)`, or the border's value outside. Needs a non-empty image.
#[inline(always)]
fn pixel(img: &RgbImage, x: i64, y: i64, border: Border) -> [f32; 3] {
    let (w, h) = (i64::from(img.width()), i64::from(img.height()));
    let inside = (0..w).contains(&x) && (0..h).contains(&y);
    let (x, y) = match border {
        Border::Zero if !inside => return [0.0; 3],
        _ => (x.clamp(0, w - 1), y.clamp(0, h - 1)),
    };
    img.get_pixel(x as u32, y as u32).0.map(f32::from)
}
