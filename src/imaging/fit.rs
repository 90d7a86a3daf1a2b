//! Fitting a photo to the model: a crop around the person (both skeletons, so the new pose fits
//! too), at the aspect of the model's annotation frame, resampled to the model input.
//!
//! GFLA's DeepFashion model was trained on 176-wide portraits stretched to 256×256 (spec §8.1),
//! so the crop takes the annotation frame's aspect (176:256) and is then stretched to the input
//! size, exactly as the authors' data pipeline did; keypoints go to the annotation frame and the
//! heat-map encoder scales them to the input as the reference does.

use crate::pose::Pose;
use image::{imageops::FilterType, RgbImage};

/// Photo pixel coordinates ↔ annotation-frame coordinates (pixel centres at integers).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FitTransform {
    /// Top-left corner of the crop in the photo (may be negative: padded by edge replication).
    pub x0: f64,
    pub y0: f64,
    /// Crop size in photo pixels.
    pub crop_w: f64,
    pub crop_h: f64,
    /// Annotation frame size (the model's keypoint frame).
    pub frame_w: f64,
    pub frame_h: f64,
}

impl FitTransform {
    pub fn photo_to_frame(&self, x: f32, y: f32) -> (f32, f32) {
        let fx = (x as f64 + 0.5 - self.x0) * self.frame_w / self.crop_w - 0.5;
        let fy = (y as f64 + 0.5 - self.y0) * self.frame_h / self.crop_h - 0.5;
        (fx as f32, fy as f32)
    }

    pub fn frame_to_photo(&self, x: f32, y: f32) -> (f32, f32) {
        let px = (x as f64 + 0.5) * self.crop_w / self.frame_w - 0.5 + self.x0;
        let py = (y as f64 + 0.5) * self.crop_h / self.frame_h - 0.5 + self.y0;
        (px as f32, py as f32)
    }

    pub fn pose_to_frame(&self, pose: &Pose) -> Pose {
        pose.map_points(|x, y| self.photo_to_frame(x, y))
    }
}

/// The model's view of a photo.
#[derive(Clone, Debug)]
pub struct FittedPhoto {
    /// The crop resampled to the model input size.
    pub image: RgbImage,
    pub transform: FitTransform,
}

/// Extra room around the joints: the skeleton stops at the nose and ankles, the person does not.
const MARGIN: f64 = 1.3;

/// The crop (x0, y0, w, h) around every joint of `poses`, at the aspect `frame_hw`; the whole
/// photo (letterboxed to that aspect) when no joint is present.
pub fn crop_box(
    poses: &[&Pose],
    photo_wh: (u32, u32),
    frame_hw: (usize, usize),
) -> (f64, f64, f64, f64) {
    let aspect = frame_hw.0 as f64 / frame_hw.1 as f64; // height / width
    let (pw, ph) = (photo_wh.0 as f64, photo_wh.1 as f64);
    let bbox =
        poses
            .iter()
            .filter_map(|p| p.bbox())
            .fold(None, |acc: Option<(f64, f64, f64, f64)>, b| {
                let b = (b.0 as f64, b.1 as f64, b.2 as f64, b.3 as f64);
                Some(match acc {
                    None => b,
                    Some(a) => (a.0.min(b.0), a.1.min(b.1), a.2.max(b.2), a.3.max(b.3)),
                })
            });
    let (cx, cy, h) = match bbox {
        Some((x0, y0, x1, y1)) => {
            // At least 64 px or a tenth of the photo, so a single joint still gives a sane crop.
            let min_h = (ph.max(pw) / 10.0).max(64.0);
            let h = ((y1 - y0) * MARGIN)
                .max((x1 - x0) * MARGIN * aspect)
                .max(min_h);
            ((x0 + x1) / 2.0, (y0 + y1) / 2.0, h)
        }
        None => (pw / 2.0, ph / 2.0, ph.max(pw * aspect)),
    };
    let (cw, ch) = ((h / aspect).round().max(1.0), h.round().max(1.0));
    ((cx - cw / 2.0).round(), (cy - ch / 2.0).round(), cw, ch)
}

/// Crops the photo around the poses (coordinates in photo pixels) and resamples the crop to
/// `input_hw`; the transform maps photo keypoints to the `frame_hw` annotation frame.
pub fn fit_photo(
    photo: &RgbImage,
    poses: &[&Pose],
    frame_hw: (usize, usize),
    input_hw: (usize, usize),
) -> FittedPhoto {
    fit_photo_to(
        photo,
        tight_crop(poses, photo.dimensions(), frame_hw),
        input_hw,
    )
}

/// [`crop_box`] as the transform to the `frame_hw` annotation frame.
pub fn tight_crop(poses: &[&Pose], photo_wh: (u32, u32), frame_hw: (usize, usize)) -> FitTransform {
    let (x0, y0, crop_w, crop_h) = crop_box(poses, photo_wh, frame_hw);
    FitTransform {
        x0,
        y0,
        crop_w,
        crop_h,
        frame_w: frame_hw.1 as f64,
        frame_h: frame_hw.0 as f64,
    }
}

/// Resamples the crop of `transform` to `input_hw` (the editor keeps one crop per photo so the
/// source features can be reused across edits; see `app::engine`).
pub fn fit_photo_to(
    photo: &RgbImage,
    transform: FitTransform,
    input_hw: (usize, usize),
) -> FittedPhoto {
    let FitTransform {
        x0,
        y0,
        crop_w: cw,
        crop_h: ch,
        ..
    } = transform;
    let (ih, iw) = input_hw;
    // Pre-shrink big photos so the bilinear resampling below never skips pixels (aliasing).
    let shrink = ((2.0 * ih as f64 / ch).min(2.0 * iw as f64 / cw)).min(1.0);
    let small;
    let (src, s) = if shrink < 1.0 {
        let w = ((photo.width() as f64 * shrink).round() as u32).max(1);
        let h = ((photo.height() as f64 * shrink).round() as u32).max(1);
        small = image::imageops::resize(photo, w, h, FilterType::Triangle);
        (
            &small,
            (
                w as f64 / photo.width() as f64,
                h as f64 / photo.height() as f64,
            ),
        )
    } else {
        (photo, (1.0, 1.0))
    };
    let image = RgbImage::from_fn(iw as u32, ih as u32, |mx, my| {
        let px = x0 + (mx as f64 + 0.5) * cw / iw as f64 - 0.5;
        let py = y0 + (my as f64 + 0.5) * ch / ih as f64 - 0.5;
        sample_bilinear_clamped(src, (px + 0.5) * s.0 - 0.5, (py + 0.5) * s.1 - 0.5)
    });
    FittedPhoto { image, transform }
}

/// Bilinear sample with edge replication outside the image.
fn sample_bilinear_clamped(img: &RgbImage, x: f64, y: f64) -> image::Rgb<u8> {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let (xf, yf) = (x.floor(), y.floor());
    let (fx, fy) = (x - xf, y - yf);
    let px = |xi: i64, yi: i64| img.get_pixel(xi.clamp(0, w - 1) as u32, yi.clamp(0, h - 1) as u32);
    let (xi, yi) = (xf as i64, yf as i64);
    let (a, b, c, d) = (
        px(xi, yi),
        px(xi + 1, yi),
        px(xi, yi + 1),
        px(xi + 1, yi + 1),
    );
    image::Rgb(std::array::from_fn(|ch| {
        let top = a[ch] as f64 * (1.0 - fx) + b[ch] as f64 * fx;
        let bottom = c[ch] as f64 * (1.0 - fx) + d[ch] as f64 * fx;
        (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pose::Joint;

    fn pose_with(points: &[(usize, f32, f32)]) -> Pose {
        let mut p = Pose::missing();
        for &(j, x, y) in points {
            p.set(j, Some(Joint::new(x, y, 1.0)));
        }
        p
    }

    #[test]
    fn transform_round_trips_and_keeps_joints_inside() {
        let p = pose_with(&[(0, 300.0, 100.0), (10, 280.0, 700.0), (4, 180.0, 400.0)]);
        let (x0, y0, cw, ch) = crop_box(&[&p], (640, 800), (256, 176));
        assert!(
            (ch / cw - 256.0 / 176.0).abs() < 0.01,
            "aspect of the annotation frame"
        );
        let t = FitTransform {
            x0,
            y0,
            crop_w: cw,
            crop_h: ch,
            frame_w: 176.0,
            frame_h: 256.0,
        };
        for (_, j) in p.present() {
            let (fx, fy) = t.photo_to_frame(j.x, j.y);
            assert!(
                (0.0..176.0).contains(&fx) && (0.0..256.0).contains(&fy),
                "{fx},{fy}"
            );
            let (bx, by) = t.frame_to_photo(fx, fy);
            assert!((bx - j.x).abs() < 1e-3 && (by - j.y).abs() < 1e-3);
        }
    }

    #[test]
    fn fitted_pixels_come_from_the_mapped_photo_location() {
        // A photo whose colour encodes the pixel position: the fitted image must agree with
        // the transform (no downscaling here, so nearest positions are exact up to rounding).
        let photo = RgbImage::from_fn(200, 300, |x, y| image::Rgb([x as u8, (y % 256) as u8, 0]));
        let p = pose_with(&[(1, 100.0, 60.0), (13, 110.0, 200.0)]);
        let fitted = fit_photo(&photo, &[&p], (128, 64), (128, 64));
        let t = fitted.transform;
        for (mx, my) in [(10u32, 10u32), (32, 64), (60, 120)] {
            let (px, py) = t.frame_to_photo(mx as f32, my as f32);
            let got = fitted.image.get_pixel(mx, my);
            let want_x = px.clamp(0.0, 199.0);
            assert!(
                (got[0] as f32 - want_x).abs() <= 1.0,
                "x: {} vs {want_x}",
                got[0]
            );
            let want_y = py.clamp(0.0, 299.0);
            if want_y < 255.0 {
                assert!(
                    (got[1] as f32 - want_y).abs() <= 1.0,
                    "y: {} vs {want_y}",
                    got[1]
                );
            }
        }
    }
}
