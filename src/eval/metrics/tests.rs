//! The metrics against analytic cases and reference values.

use super::*;

fn constant(w: u32, h: u32, v: u8) -> RgbImage {
    RgbImage::from_pixel(w, h, image::Rgb([v; 3]))
}

fn close(a: f64, b: f64, tol: f64) {
    assert!((a - b).abs() < tol, "{a} vs {b}");
}

fn ramp() -> RgbImage {
    RgbImage::from_fn(20, 15, |x, y| {
        image::Rgb([(x * 10) as u8, (y * 12 + 3) as u8, ((x * y) % 200) as u8])
    })
}

const C1: f64 = 6.5025; // (0.01·255)²
const C2: f64 = 58.5225; // (0.03·255)²

#[test]
fn psnr_of_constant_difference_and_identity() {
    let a = ramp();
    let b = RgbImage::from_fn(20, 15, |x, y| {
        image::Rgb(a.get_pixel(x, y).0.map(|v| v + 10))
    });
    close(
        psnr(&a, &b).unwrap(),
        20.0 * (255.0f64 / 10.0).log10(),
        1e-9,
    );
    close(psnr(&a, &b).unwrap(), 28.1308, 1e-4);
    assert_eq!(psnr(&a, &a).unwrap(), f64::INFINITY);
    // One value off by 255 among 12 values: MSE = 255²/12 → 10·log10(12).
    let mut c = constant(2, 2, 0);
    let d = c.clone();
    c.get_pixel_mut(1, 1).0[2] = 255;
    close(psnr(&c, &d).unwrap(), 10.0 * 12f64.log10(), 1e-9);
}

#[test]
fn masked_psnr_counts_only_the_mask() {
    // Off by 10 inside the left half, off by 200 outside it: only the 10s count.
    let a = constant(4, 2, 100);
    let b = RgbImage::from_fn(4, 2, |x, _| image::Rgb([if x < 2 { 110 } else { 255 }; 3]));
    let left = GrayImage::from_fn(4, 2, |x, _| image::Luma([if x < 2 { 200 } else { 100 }]));
    close(
        psnr_masked(&a, &b, &left).unwrap(),
        20.0 * (25.5f64).log10(),
        1e-9,
    );
    let none = GrayImage::new(4, 2);
    assert_eq!(
        psnr_masked(&a, &b, &none),
        Err(MetricError::Empty("the mask"))
    );
    assert!(psnr_masked(&a, &b, &GrayImage::new(3, 2)).is_err());
}

#[test]
fn l1_in_unit_range() {
    let a = constant(4, 3, 100);
    let b = constant(4, 3, 151);
    close(l1(&a, &b).unwrap(), 51.0 / 255.0, 1e-12);
    assert_eq!(l1(&a, &a).unwrap(), 0.0);
    close(
        l1(&constant(2, 2, 0), &constant(2, 2, 255)).unwrap(),
        1.0,
        1e-12,
    );
}

#[test]
fn ssim_identical_is_one() {
    let a = ramp();
    close(ssim(&a, &a).unwrap(), 1.0, 1e-9);
    let small = RgbImage::from_fn(5, 3, |x, y| image::Rgb([x as u8 * 40, y as u8 * 70, 9]));
    close(ssim(&small, &small).unwrap(), 1.0, 1e-9);
}

#[test]
fn ssim_of_constant_images_is_the_luminance_term() {
    // σ = 0, so SSIM = (2μaμb + C1)/(μa² + μb² + C1) · C2/C2 at every position.
    let want = (2.0 * 100.0 * 110.0 + C1) / (100.0f64.powi(2) + 110.0f64.powi(2) + C1);
    close(
        ssim(&constant(16, 13, 100), &constant(16, 13, 110)).unwrap(),
        want,
        1e-9,
    );
    // Smaller than the window: truncated window, same value.
    close(
        ssim(&constant(4, 7, 100), &constant(4, 7, 110)).unwrap(),
        want,
        1e-9,
    );
    close(
        ssim(&constant(1, 1, 100), &constant(1, 1, 110)).unwrap(),
        want,
        1e-9,
    );
    // Black vs white: C1 / (255² + C1).
    close(
        ssim(&constant(12, 12, 0), &constant(12, 12, 255)).unwrap(),
        C1 / (65025.0 + C1),
        1e-9,
    );
}

/// An 11×11 image (exactly one window position): c + d on the right five columns, c − d on
/// the left five, c in the middle column. The symmetric window makes μ = c exactly.
fn halves(c: f64, d: f64) -> RgbImage {
    RgbImage::from_fn(11, 11, |x, _| {
        let s = (x as i32 - 5).signum() as f64; // −1, 0, +1
        let v = c + d * s;
        image::Rgb([v as u8; 3])
    })
}

#[test]
fn ssim_small_hand_computed_cases() {
    // Shifted copy (+20): the variances and covariance are equal, so only the luminance
    // term remains: (2·100·120 + C1)/(100² + 120² + C1).
    let (a, b) = (halves(100.0, 30.0), halves(120.0, 30.0));
    let want = (2.0 * 100.0 * 120.0 + C1) / (100.0f64.powi(2) + 120.0f64.powi(2) + C1);
    close(ssim(&a, &b).unwrap(), want, 1e-9);
    // Mirrored contrast (c − d·s vs c + d·s): equal means, σa² = σb² = d²(1 − g₀) with g₀
    // the centre tap of the normalised 1-D Gaussian (the middle column's weight), and
    // σab = −σa², so SSIM = (C2 − 2σ²)/(C2 + 2σ²).
    let g0 = 1.0
        / (-5..=5)
            .map(|i: i32| (-(i * i) as f64 / 4.5).exp())
            .sum::<f64>();
    let var = 30.0f64.powi(2) * (1.0 - g0);
    let mirrored = halves(100.0, -30.0);
    let want = (C2 - 2.0 * var) / (C2 + 2.0 * var);
    close(ssim(&a, &mirrored).unwrap(), want, 1e-9);
    assert!(want < 0.0);
}

#[test]
fn ssim_map_is_averaged_over_valid_positions() {
    // 12×11: two window positions (x = 0, 1). Constant 50 vs 60 except one column that is
    // only inside the first window (x = 0 column): position 1 sees constant images.
    let a = constant(12, 11, 50);
    let mut b = constant(12, 11, 60);
    for y in 0..11 {
        b.put_pixel(0, y, image::Rgb([60, 60, 60]));
    }
    let lum = (2.0 * 50.0 * 60.0 + C1) / (2500.0 + 3600.0 + C1);
    close(ssim(&a, &b).unwrap(), lum, 1e-9);
    // Now change that column: position 0 differs, position 1 keeps `lum`.
    for y in 0..11 {
        b.put_pixel(0, y, image::Rgb([200, 200, 200]));
    }
    let s = ssim(&a, &b).unwrap();
    let g = gaussian_taps(11);
    let (mb, eb2) = (60.0 + 140.0 * g[0], 3600.0 * (1.0 - g[0]) + 40000.0 * g[0]);
    let var_b = eb2 - mb * mb;
    let pos0 = (2.0 * 50.0 * mb + C1) * C2 / ((2500.0 + mb * mb + C1) * (var_b + C2));
    close(s, (pos0 + lum) / 2.0, 1e-9);
}

#[test]
fn image_size_mismatch_is_an_error() {
    let e = psnr(&constant(3, 2, 0), &constant(2, 3, 0)).unwrap_err();
    assert_eq!(e.to_string(), "image sizes differ: 3×2 vs 2×3");
    assert!(ssim(&constant(3, 2, 0), &constant(3, 3, 0)).is_err());
    assert!(l1(&constant(3, 2, 0), &constant(4, 2, 0)).is_err());
    assert_eq!(
        psnr(&constant(0, 0, 0), &constant(0, 0, 0)),
        Err(MetricError::Empty("the image"))
    );
}

fn constant_flow(h: usize, w: usize, dx: f32, dy: f32) -> FlowField {
    let mut f = FlowField::zeros(h, w);
    for y in 0..h {
        for x in 0..w {
            f.set(x, y, dx, dy);
        }
    }
    f
}

#[test]
fn epe_plain_and_weighted() {
    let gt = constant_flow(4, 5, 1.0, -2.0);
    let pred = constant_flow(4, 5, 4.0, 2.0); // (3, 4) off everywhere
    close(epe(&pred, &gt, None).unwrap(), 5.0, 1e-12);
    assert_eq!(epe(&gt, &gt, None).unwrap(), 0.0);
    // Half the pixels off by 5 (left columns x < 2: 8 pixels), the rest exact.
    let mut half = gt.clone();
    for y in 0..4 {
        for x in 0..2 {
            half.set(x, y, 4.0, 2.0);
        }
    }
    close(epe(&half, &gt, None).unwrap(), 5.0 * 8.0 / 20.0, 1e-12);
    // Weights 3 on the wrong pixels, 1 on the right ones: 5·24/(24 + 12).
    let w: Vec<f32> = (0..20).map(|i| if i % 5 < 2 { 3.0 } else { 1.0 }).collect();
    close(epe(&half, &gt, Some(&w)).unwrap(), 5.0 * 24.0 / 36.0, 1e-12);
    // A mask selecting only the wrong pixels.
    let m: Vec<f32> = (0..20).map(|i| if i % 5 < 2 { 1.0 } else { 0.0 }).collect();
    close(epe(&half, &gt, Some(&m)).unwrap(), 5.0, 1e-12);
}

#[test]
fn epe_errors() {
    let a = constant_flow(4, 5, 0.0, 0.0);
    let b = constant_flow(5, 4, 0.0, 0.0);
    let e = epe(&a, &b, None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "flow sizes differ: prediction 5×4 vs ground truth 4×5"
    );
    assert!(matches!(
        epe(&a, &a, Some(&[1.0; 3])),
        Err(MetricError::WeightSize { len: 3, .. })
    ));
    assert!(matches!(
        epe(&a, &a, Some(&[0.0; 20])),
        Err(MetricError::WeightSum(_))
    ));
    let mut bad = a.clone();
    bad.data.pop();
    assert!(matches!(
        epe(&bad, &a, None),
        Err(MetricError::FlowData { .. })
    ));
}

#[test]
fn iou_of_half_overlapping_squares() {
    // Two 4×4 squares on an 8×8 grid, offset by 2 columns: intersection 8, union 24.
    let square = |x0: usize| -> Vec<f32> {
        (0..64)
            .map(|i| {
                let (x, y) = (i % 8, i / 8);
                if (x0..x0 + 4).contains(&x) && (2..6).contains(&y) {
                    0.9
                } else {
                    0.1
                }
            })
            .collect()
    };
    close(
        mask_iou(&square(0), &square(2), 0.5).unwrap(),
        1.0 / 3.0,
        1e-12,
    );
    assert_eq!(mask_iou(&square(0), &square(0), 0.5).unwrap(), 1.0);
    assert_eq!(mask_iou(&square(0), &square(4), 0.5).unwrap(), 0.0);
    // Both empty above the threshold.
    assert_eq!(mask_iou(&square(0), &square(2), 0.95).unwrap(), 1.0);
    // Strictly greater than the threshold.
    assert_eq!(mask_iou(&[0.5, 1.0], &[1.0, 1.0], 0.5).unwrap(), 0.5);
    assert_eq!(
        mask_iou(&[1.0; 3], &[1.0; 4], 0.5).unwrap_err().to_string(),
        "mask sizes differ: prediction has 3 values, ground truth 4"
    );
}
