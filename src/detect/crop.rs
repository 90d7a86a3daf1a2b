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
use crate::pose::Pose;

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

    /// The same kind of ROI from an OpenPose-18 skeleton (pixels), for running the landmark
    /// model where a pose file says the person is; `None` with fewer than two joints.
    ///
    /// MediaPipe's ROI is centred on the hip midpoint, rotated so that the body's up points up,
    /// and 2.5 x its body-circle radius wide. From the skeleton: the centre is the hip midpoint
    /// (one hip if only one is there); up is hips → neck (neck = the shoulders' midpoint
    /// when absent). Without hips (upper-body photos) up is perpendicular to the shoulder line,
    /// turned towards the head, and the hips are put 1.5 shoulder widths below the neck. The
    /// radius is the larger of 1.15 x the farthest joint from the centre and 1.7 x the torso
    /// (neck to hips), which covers legs the skeleton lacks. On the three pose fixtures, using
    /// only their confident joints, this gives MediaPipe's side within 1 %, its centre within
    /// 7.5 % of the side and its rotation within 0.08 rad (`tests/detect_matte.rs`).
    pub fn from_pose(pose: &Pose) -> Option<Roi> {
        const NOSE: usize = 0;
        const NECK: usize = 1;
        const R_SHOULDER: usize = 2;
        const L_SHOULDER: usize = 5;
        const R_HIP: usize = 8;
        const L_HIP: usize = 11;
        const HEAD: [usize; 5] = [NOSE, 14, 15, 16, 17];
        let at = |j: usize| pose.get(j).map(|p| [p.x, p.y]);
        let mid = |a: [f32; 2], b: [f32; 2]| [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0];
        let sub = |a: [f32; 2], b: [f32; 2]| [a[0] - b[0], a[1] - b[1]];
        let len = |v: [f32; 2]| v[0].hypot(v[1]);
        let points: Vec<[f32; 2]> = pose
            .present()
            .map(|(_, p)| [p.x, p.y])
            .filter(|p| p[0].is_finite() && p[1].is_finite())
            .collect();
        if points.len() < 2 {
            return None;
        }
        let shoulders = at(R_SHOULDER).zip(at(L_SHOULDER));
        let neck = at(NECK).or(shoulders.map(|(r, l)| mid(r, l)));
        let hips = match (at(R_HIP), at(L_HIP)) {
            (Some(r), Some(l)) => Some(mid(r, l)),
            (r, l) => r.or(l),
        };
        let head: Vec<[f32; 2]> = HEAD.iter().filter_map(|&j| at(j)).collect();
        let head = (!head.is_empty()).then(|| {
            let n = head.len() as f32;
            let s = head
                .iter()
                .fold([0.0, 0.0], |s, p| [s[0] + p[0], s[1] + p[1]]);
            [s[0] / n, s[1] / n]
        });
        let unit = |v: [f32; 2]| {
            let l = len(v);
            (l > 1e-3 && l.is_finite()).then(|| [v[0] / l, v[1] / l])
        };
        let torso = hips
            .zip(neck)
            .and_then(|(h, n)| unit(sub(n, h)).map(|u| (u, len(sub(n, h)))));
        let (centre, up, torso_len) = if let (Some((up, t)), Some(h)) = (torso, hips) {
            (h, up, t)
        } else {
            // No usable torso: the shoulder line (or the neck → head direction) gives up.
            let from_shoulders = shoulders.and_then(|(r, l)| {
                let across = sub(l, r);
                let u = unit([across[1], -across[0]])?;
                let towards_head = head.map_or(-u[1], |hd| {
                    let d = sub(hd, mid(r, l));
                    d[0] * u[0] + d[1] * u[1]
                });
                let u = if towards_head < 0.0 {
                    [-u[0], -u[1]]
                } else {
                    u
                };
                Some((u, 1.5 * len(across)))
            });
            let from_head = || {
                let (n, hd) = neck.zip(head)?;
                let u = unit(sub(hd, n))?;
                Some((u, 3.0 * len(sub(hd, n))))
            };
            match (from_shoulders.or_else(from_head), neck) {
                (Some((u, t)), Some(n)) => {
                    (hips.unwrap_or([n[0] - u[0] * t, n[1] - u[1] * t]), u, t)
                }
                // Neither: the joints' bounding box, upright.
                _ => {
                    let (x0, y0, x1, y1) = pose.bbox()?;
                    ([(x0 + x1) / 2.0, (y0 + y1) / 2.0], [0.0, -1.0], 0.0)
                }
            }
        };
        let farthest = points
            .iter()
            .map(|&p| len(sub(p, centre)))
            .fold(0f32, f32::max);
        let radius = (1.15 * farthest).max(1.7 * torso_len);
        if !(radius > 0.0 && radius.is_finite()) {
            return None;
        }
        let angle = std::f32::consts::FRAC_PI_2 - (-up[1]).atan2(up[0]);
        Some(Roi {
            cx: centre[0],
            cy: centre[1],
            side: 2.0 * radius * ROI_SCALE,
            rotation: normalize_radians(angle),
        })
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
