use std::cell::Cell;

use image::{GrayImage, Luma, Rgb, RgbImage};

use super::*;

/// PSNR (dB) of `a` against `b` over the pixels where `hole` is set (the rest is copied by
/// construction and would only dilute the error). Here rather than `eval::metrics`, a higher
/// layer that imaging must not import.
fn psnr_in_hole(a: &RgbImage, b: &RgbImage, hole: &GrayImage) -> f64 {
    let (mut sse, mut n) = (0f64, 0usize);
    for ((p, q), m) in a.pixels().zip(b.pixels()).zip(hole.pixels()) {
        if m[0] > 127 {
            sse += (0..3)
                .map(|c| (p[c] as f64 - q[c] as f64).powi(2))
                .sum::<f64>();
            n += 3;
        }
    }
    assert!(n > 0, "an empty hole");
    10.0 * (255.0f64 * 255.0 / (sse / n as f64)).log10()
}

/// A deterministic colourful image with structure (gradients plus a hashed speckle).
fn busy_image(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let hash = (x.wrapping_mul(73_856_093) ^ y.wrapping_mul(19_349_663)) % 31;
        Rgb([
            (x * 255 / w.max(1)) as u8,
            (y * 255 / h.max(1)) as u8,
            (100 + hash * 3) as u8,
        ])
    })
}

/// Pixels inside the axis-aligned box [x0, x1) × [y0, y1) are the hole.
fn box_hole(w: u32, h: u32, x0: u32, y0: u32, x1: u32, y1: u32) -> GrayImage {
    GrayImage::from_fn(w, h, |x, y| {
        Luma([if x >= x0 && x < x1 && y >= y0 && y < y1 {
            255
        } else {
            0
        }])
    })
}

fn never() -> bool {
    false
}

fn both(img: &RgbImage, hole: &GrayImage) -> [RgbImage; 2] {
    let p = PatchMatchParams::default();
    [
        fill_patchmatch(img, hole, &p, &never).expect("patchmatch fill"),
        fill_diffusion(img, hole).expect("diffusion fill"),
    ]
}

#[test]
fn pixels_outside_the_hole_are_bit_identical() {
    let img = busy_image(120, 90);
    // A blob plus a soft-edged ring: values ≤ 127 are *not* hole, even when non-zero.
    let hole = GrayImage::from_fn(120, 90, |x, y| {
        let d = ((x as f32 - 60.0).powi(2) + (y as f32 - 45.0).powi(2)).sqrt();
        Luma([if d < 20.0 {
            200
        } else if d < 24.0 {
            127
        } else {
            0
        }])
    });
    for out in both(&img, &hole) {
        for ((a, b), m) in out.pixels().zip(img.pixels()).zip(hole.pixels()) {
            if m[0] <= 127 {
                assert_eq!(a, b);
            }
        }
        // And the hole was actually written (it held the image, now it holds a fill).
        assert_ne!(out, img);
    }
}

#[test]
fn an_empty_hole_returns_the_image() {
    let img = busy_image(40, 30);
    let hole = GrayImage::from_pixel(40, 30, Luma([127]));
    for out in both(&img, &hole) {
        assert_eq!(out, img);
    }
    // Zero-sized images have an empty hole too.
    let empty = RgbImage::new(0, 0);
    for out in both(&empty, &GrayImage::new(0, 0)) {
        assert_eq!(out.dimensions(), (0, 0));
    }
}

#[test]
fn a_full_hole_or_a_mismatched_mask_is_an_error() {
    let img = busy_image(40, 30);
    let full = GrayImage::from_pixel(40, 30, Luma([255]));
    let p = PatchMatchParams::default();
    let e = fill_patchmatch(&img, &full, &p, &never).unwrap_err();
    assert_eq!(
        e,
        InpaintError::NoSource {
            width: 40,
            height: 30
        }
    );
    assert!(e.to_string().contains("whole 40×30 image"), "{e}");
    assert_eq!(fill_diffusion(&img, &full).unwrap_err(), e);
    let small = GrayImage::new(39, 30);
    let e = fill_patchmatch(&img, &small, &p, &never).unwrap_err();
    assert!(
        e.to_string().contains("39×30 but the image is 40×30"),
        "{e}"
    );
    assert!(fill_diffusion(&img, &small).is_err());
}

#[test]
fn cancel_is_polled_and_stops_the_fill() {
    let img = busy_image(200, 150);
    let hole = box_hole(200, 150, 60, 40, 140, 110);
    let p = PatchMatchParams::default();
    let polls = Cell::new(0usize);
    let out = fill_patchmatch(&img, &hole, &p, &|| {
        polls.set(polls.get() + 1);
        false
    });
    assert!(out.is_ok());
    let total = polls.get();
    assert!(total >= 10, "polled only {total} times");
    // Cancelling half-way ends it with the cancelled error.
    polls.set(0);
    let e = fill_patchmatch(&img, &hole, &p, &|| {
        polls.set(polls.get() + 1);
        polls.get() > total / 2
    })
    .unwrap_err();
    assert_eq!(e, InpaintError::Cancelled);
    assert_eq!(e.to_string(), "cancelled");
}

#[test]
fn the_same_seed_gives_the_same_plate() {
    let img = busy_image(160, 120);
    let hole = box_hole(160, 120, 50, 30, 110, 90);
    let p = PatchMatchParams {
        seed: 7,
        ..Default::default()
    };
    let a = fill_patchmatch(&img, &hole, &p, &never).unwrap();
    let b = fill_patchmatch(&img, &hole, &p, &never).unwrap();
    assert_eq!(a, b);
    // Whatever the thread count: the random streams follow bands, not threads.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let c = pool.install(|| fill_patchmatch(&img, &hole, &p, &never).unwrap());
    assert_eq!(a, c);
    let other = PatchMatchParams { seed: 8, ..p };
    assert_ne!(a, fill_patchmatch(&img, &hole, &other, &never).unwrap());
}

/// Vertical stripes of period 8 (4 dark, 4 light columns, slightly coloured).
fn stripes(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, _| {
        if x % 8 < 4 {
            Rgb([40, 60, 80])
        } else {
            Rgb([220, 200, 170])
        }
    })
}

#[test]
fn stripes_are_refilled_with_stripes_and_diffusion_smears_them() {
    let (w, h) = (160, 128);
    let img = stripes(w, h);
    let hole = GrayImage::from_fn(w, h, |x, y| {
        let d = ((x as f32 - 80.0) / 30.0).powi(2) + ((y as f32 - 64.0) / 40.0).powi(2);
        Luma([if d < 1.0 { 255 } else { 0 }])
    });
    let [pm, diff] = both(&img, &hole);
    let pm_db = psnr_in_hole(&pm, &img, &hole);
    let diff_db = psnr_in_hole(&diff, &img, &hole);
    assert!(pm_db >= 30.0, "patchmatch {pm_db:.1} dB inside the hole");
    assert!(
        diff_db < 15.0,
        "diffusion {diff_db:.1} dB: a membrane cannot make stripes"
    );
}

#[test]
fn a_hole_on_the_border_and_in_a_corner_is_filled_from_inside() {
    let (w, h) = (128, 96);
    let img = stripes(w, h);
    // The left edge, the top-right corner and the whole bottom row.
    let hole = GrayImage::from_fn(w, h, |x, y| {
        let on = (x < 12 && (20..60).contains(&y)) || (x >= 100 && y < 30) || y >= h - 3;
        Luma([if on { 255 } else { 0 }])
    });
    let [pm, diff] = both(&img, &hole);
    let pm_db = psnr_in_hole(&pm, &img, &hole);
    assert!(
        pm_db >= 30.0,
        "patchmatch {pm_db:.1} dB on the border holes"
    );
    assert!(psnr_in_hole(&diff, &img, &hole).is_finite());
}

#[test]
fn tiny_images_and_slivers_never_panic() {
    let p = PatchMatchParams::default();
    for (w, h) in [
        (1, 2),
        (2, 1),
        (2, 2),
        (3, 7),
        (6, 6),
        (7, 7),
        (9, 4),
        (33, 5),
    ] {
        let img = busy_image(w, h);
        // Everything but one pixel, then a single hole pixel.
        for keep in [true, false] {
            let hole = GrayImage::from_fn(w, h, |x, y| {
                let first = x == 0 && y == 0;
                Luma([if first != keep { 255 } else { 0 }])
            });
            for out in [
                fill_patchmatch(&img, &hole, &p, &never).unwrap(),
                fill_diffusion(&img, &hole).unwrap(),
            ] {
                assert_eq!(out.dimensions(), (w, h));
                if keep {
                    // One known pixel: the whole hole takes its colour.
                    let c = *img.get_pixel(0, 0);
                    assert!(out.pixels().all(|&q| q == c), "{w}×{h}");
                }
            }
        }
    }
}

#[test]
fn dilation_grows_by_a_disc() {
    let mut m = GrayImage::new(21, 21);
    m.put_pixel(10, 10, Luma([255]));
    let d = dilate_mask(&m, 3);
    let set: Vec<(u32, u32)> = d
        .enumerate_pixels()
        .filter(|(_, _, p)| p[0] == 255)
        .map(|(x, y, _)| (x, y))
        .collect();
    // Integer points within distance 3 of the centre: 29 of them.
    assert_eq!(set.len(), 29);
    assert!(set.iter().all(|&(x, y)| {
        let (dx, dy) = (x as i32 - 10, y as i32 - 10);
        dx * dx + dy * dy <= 9
    }));
    assert_eq!(dilate_mask(&m, 0), m);
}

/// Mean absolute difference of horizontally adjacent pixels, over the hole or outside it: how
/// much fine texture a region has.
fn fine_contrast(img: &RgbImage, hole: &GrayImage, inside: bool) -> f64 {
    let (mut sum, mut n) = (0f64, 0usize);
    for y in 0..img.height() {
        for x in 1..img.width() {
            let here = hole.get_pixel(x, y)[0] > 127 && hole.get_pixel(x - 1, y)[0] > 127;
            let away = hole.get_pixel(x, y)[0] == 0 && hole.get_pixel(x - 1, y)[0] == 0;
            if (inside && here) || (!inside && away) {
                let (a, b) = (img.get_pixel(x, y), img.get_pixel(x - 1, y));
                sum += (0..3).map(|c| a[c].abs_diff(b[c]) as f64).sum::<f64>() / 3.0;
                n += 1;
            }
        }
    }
    sum / n.max(1) as f64
}

/// A fleece-like texture with no structure to align patches on (hashed grain of two pixels):
/// the vote's weighted mean averages misaligned matches towards flat, the sharp finish copies
/// each pixel from its match and keeps the grain's contrast.
#[test]
fn a_sharp_finish_keeps_fine_grain_that_the_vote_averages_flat() {
    let img = RgbImage::from_fn(120, 120, |x, y| {
        let h = ((x / 2).wrapping_mul(2_654_435_761) ^ (y / 2).wrapping_mul(40_503)) % 97;
        let v = 150 + (h % 60) as u8;
        Rgb([v, v - 10, v - 30])
    });
    let hole = box_hole(120, 120, 40, 40, 80, 80);
    let fill = |sharp_finish| {
        let p = PatchMatchParams {
            em_iters_fine: 1,
            em_iters_coarse: 3,
            search_passes: 1,
            sharp_finish,
            ..Default::default()
        };
        fill_patchmatch(&img, &hole, &p, &never).unwrap()
    };
    let source = fine_contrast(&img, &hole, false);
    let voted = fine_contrast(&fill(false), &hole, true) / source;
    let sharp = fine_contrast(&fill(true), &hole, true) / source;
    println!("fine contrast in the hole / outside: vote {voted:.2}, sharp finish {sharp:.2}");
    assert!(sharp > 0.8, "sharp finish {sharp:.2}");
    assert!(sharp > voted + 0.1, "sharp {sharp:.2} vs vote {voted:.2}");
    // Outside the hole nothing changes either way.
    let out = fill(true);
    for (i, (a, b)) in out.pixels().zip(img.pixels()).enumerate() {
        if hole.as_raw()[i] == 0 {
            assert_eq!(a, b);
        }
    }
}

/// A texture fill of a large hole where only a strip is wanted (a cloth's few pixels inside a
/// box that is otherwise unknown): the wanted strip gets the stripes as the whole-hole fill
/// does, and wanting the whole hole is exactly the plain fill.
#[test]
fn a_wanted_part_of_the_hole_is_filled_like_the_whole() {
    let (w, h) = (160, 128);
    let img = stripes(w, h);
    let hole = box_hole(w, h, 30, 30, 130, 100);
    let strip = box_hole(w, h, 60, 50, 100, 70);
    let p = PatchMatchParams::default();
    let whole = fill_patchmatch(&img, &hole, &p, &never).unwrap();
    assert_eq!(
        fill_patchmatch_wanted(&img, &hole, &hole, &p).unwrap(),
        whole
    );
    let part = fill_patchmatch_wanted(&img, &hole, &strip, &p).unwrap();
    let db = psnr_in_hole(&part, &img, &strip);
    assert!(db >= 30.0, "wanted strip {db:.1} dB against the stripes");
    for (i, (a, b)) in part.pixels().zip(img.pixels()).enumerate() {
        if hole.as_raw()[i] == 0 {
            assert_eq!(a, b, "pixel {i} outside the hole changed");
        }
    }
    let other = GrayImage::new(w + 1, h);
    assert!(fill_patchmatch_wanted(&img, &hole, &other, &p).is_err());
}
