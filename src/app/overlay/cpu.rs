//! The CPU twin of the shader's colours (PNG export, legends, tests) and the colour rules it
//! shares with the GPU's uniforms.

use super::{FloatField, OverlayStyle};
use crate::app::field::finite_or_zero;
use crate::imaging::flow_color::{color_wheel, wheel_color};

/// The reference adds this to the largest magnitude before normalising (no division by zero).
const FLOW_NORM_EPS: f64 = 1e-5;

/// CPU twin of the shader's colours, for PNG export, legends and tests: RGBA8, straight (non-premultiplied) alpha, one pixel per field cell.
pub fn to_rgba_image(field: &FloatField, style: OverlayStyle, opacity: f32) -> image::RgbaImage {
    let opacity = clean_opacity(opacity);
    let w = field.width as usize;
    match style {
        OverlayStyle::FlowWheel { max_radius } => {
            let wheel = color_wheel();
            let norm = clean_max_radius(max_radius) as f64 + FLOW_NORM_EPS;
            let alpha = unit_to_byte(opacity);
            image::RgbaImage::from_fn(field.width, field.height, |x, y| {
                let i = y as usize * w + x as usize;
                // The reference swaps the channels: u = Δy, v = Δx.
                let u = field.value(1, i) as f64 / norm;
                let v = field.value(0, i) as f64 / norm;
                let [r, g, b] = wheel_color(&wheel, u, v);
                image::Rgba([r, g, b, alpha])
            })
        }
        OverlayStyle::Colormap {
            min,
            max,
            alpha_from_value,
        } => {
            let (min, max) = clean_range(min, max);
            image::RgbaImage::from_fn(field.width, field.height, |x, y| {
                let i = y as usize * w + x as usize;
                let t = colormap_t(field.value(0, i), min, max);
                let [r, g, b] = turbo(t);
                let alpha = if alpha_from_value {
                    opacity * t
                } else {
                    opacity
                };
                image::Rgba([r, g, b, unit_to_byte(alpha)])
            })
        }
    }
}

/// Turbo (Anton Mikhailov, Google 2019) through Ruofei Du's degree-5 polynomial approximation
/// (Apache-2.0), evaluated in Horner form exactly as `overlay.wgsl` does. `t` is clamped to
/// [0, 1]; NaN reads as 0.
pub fn turbo(t: f32) -> [u8; 3] {
    // The published coefficients, kept digit for digit (f64 here only so the literals are
    // exact as written); evaluation is in f32 like the shader's.
    const R: [f64; 6] = [
        0.13572138,
        4.61539260,
        -42.66032258,
        132.13108234,
        -152.94239396,
        59.28637943,
    ];
    const G: [f64; 6] = [
        0.09140261,
        2.19418839,
        4.84296658,
        -14.18503333,
        4.27729857,
        2.82956604,
    ];
    const B: [f64; 6] = [
        0.10667330,
        12.64194608,
        -60.58204836,
        110.36276771,
        -89.90310912,
        27.34824973,
    ];
    let x = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let horner = |c: &[f64; 6]| c.iter().rev().fold(0.0f32, |acc, &k| acc * x + k as f32);
    [R, G, B].map(|c| unit_to_byte(horner(&c)))
}

// ---------------------------------------------------------------------------------------------
// Colour rules shared by the CPU twin and the uniforms (the shader assumes sanitised inputs).

pub(super) fn clean_opacity(opacity: f32) -> f32 {
    if opacity.is_nan() {
        0.0
    } else {
        opacity.clamp(0.0, 1.0)
    }
}

/// Negative or non-finite normalisers would flip or blank the wheel: treat them as 0, which the
/// 1e-5 epsilon then keeps finite (every non-zero vector is "beyond the radius").
pub(super) fn clean_max_radius(max_radius: f32) -> f32 {
    if max_radius.is_finite() {
        max_radius.max(0.0)
    } else {
        0.0
    }
}

pub(super) fn clean_range(min: f32, max: f32) -> (f32, f32) {
    let min = finite_or_zero(min);
    let max = if max.is_finite() { max } else { min };
    (min, max)
}

/// Position of `value` in [min, max], clamped; an empty or inverted range is a step at `min`.
fn colormap_t(value: f32, min: f32, max: f32) -> f32 {
    let range = max - min;
    if range > 0.0 {
        ((value - min) / range).clamp(0.0, 1.0)
    } else if value >= min {
        1.0
    } else {
        0.0
    }
}

/// 0–1 to a byte, rounding half up (the shader writes `floor(x * 255 + 0.5)` too; a unorm8
/// target rounds to nearest, so exact byte values survive the framebuffer).
fn unit_to_byte(x: f32) -> u8 {
    (x.clamp(0.0, 1.0) * 255.0 + 0.5).floor() as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::field::check_shape;
    use crate::imaging::flow_to_color;

    fn field(w: u32, h: u32, c: u8, data: Vec<f32>) -> FloatField {
        FloatField::new(w, h, c, data).expect("valid field")
    }

    #[test]
    fn hand_built_bad_fields_do_not_panic() {
        // The fields are public, so `new` can be bypassed: short data reads as zeros.
        let bad = FloatField {
            width: 3,
            height: 2,
            channels: 2,
            data: vec![3.0, 0.0, 0.0, 4.0],
        };
        assert_eq!(
            bad.max_magnitude(),
            4.0,
            "Δx plane [3, 0, 0, 4, ·, ·], no Δy plane"
        );
        let img = to_rgba_image(&bad, OverlayStyle::FlowWheel { max_radius: 3.0 }, 1.0);
        assert_eq!(img.dimensions(), (3, 2));
        assert!(check_shape(bad.width, bad.height, bad.channels, bad.data.len()).is_err());
    }

    /// A flow with every direction and a spread of magnitudes, plus non-finite cells.
    fn test_flow(w: u32, h: u32) -> FloatField {
        let n = (w * h) as usize;
        let mut data = vec![0.0f32; 2 * n];
        for i in 0..n {
            let angle = i as f32 * 0.37;
            let mag = (i % 7) as f32 * 1.3;
            data[i] = mag * angle.cos();
            data[n + i] = mag * angle.sin();
        }
        data[5] = f32::NAN;
        data[n + 9] = f32::INFINITY;
        field(w, h, 2, data)
    }

    #[test]
    fn flow_wheel_matches_reference_exactly() {
        let f = test_flow(13, 9);
        let n = f.cells();
        let reference = flow_to_color(&f.data[..n], &f.data[n..], 9, 13);
        let style = OverlayStyle::FlowWheel {
            max_radius: f.max_magnitude(),
        };
        let ours = to_rgba_image(&f, style, 0.6);
        for (x, y, p) in ours.enumerate_pixels() {
            let r = reference.get_pixel(x, y);
            assert_eq!(&p.0[..3], &r.0, "cell ({x}, {y})");
            assert_eq!(p.0[3], 153, "alpha = round(0.6 · 255)");
        }
    }

    #[test]
    fn colormap_alpha_and_range() {
        let f = field(4, 1, 1, vec![-1.0, 0.0, 5.0, f32::NAN]);
        let style = OverlayStyle::Colormap {
            min: 0.0,
            max: 10.0,
            alpha_from_value: true,
        };
        let img = to_rgba_image(&f, style, 1.0);
        let px = |x| img.get_pixel(x, 0).0;
        assert_eq!(&px(0)[..3], &turbo(0.0), "below min clamps");
        assert_eq!(px(0)[3], 0);
        assert_eq!(&px(2)[..3], &turbo(0.5));
        assert_eq!(px(2)[3], 128);
        assert_eq!(px(3), px(1), "NaN reads as 0");
        // An empty range is a step at min rather than a division by zero.
        let step = OverlayStyle::Colormap {
            min: 0.0,
            max: 0.0,
            alpha_from_value: false,
        };
        let img = to_rgba_image(&f, step, 0.5);
        assert_eq!(
            &img.get_pixel(0, 0).0,
            &[turbo(0.0)[0], turbo(0.0)[1], turbo(0.0)[2], 128]
        );
        assert_eq!(&img.get_pixel(2, 0).0[..3], &turbo(1.0));
    }

    fn luminance([r, g, b]: [u8; 3]) -> f32 {
        0.2126 * r as f32 + 0.7152 * g as f32 + 0.0722 * b as f32
    }

    #[test]
    fn turbo_sanity() {
        // Turbo runs dark → blue → cyan/green → yellow → dark red. (The polynomial is rougher at
        // the very ends than the LUT: its t = 0 is a dark grey-brown, (35, 23, 27).)
        assert!(luminance(turbo(0.0)) < 40.0, "{:?}", turbo(0.0));
        let [r, g, b] = turbo(0.1);
        assert!(b > 200 && b > r && b > g, "{:?}", turbo(0.1));
        let [r, g, b] = turbo(1.0);
        assert!(r > 100 && g < 30 && b < 10, "{:?}", turbo(1.0));
        assert_eq!(turbo(-3.0), turbo(0.0));
        assert_eq!(turbo(7.0), turbo(1.0));
        assert_eq!(turbo(f32::NAN), turbo(0.0));
        // Unlike viridis, turbo's luminance is not monotone: it rises to a peak in the
        // green-yellow band, then falls towards the dark red end.
        let lum: Vec<f32> = (0..=100)
            .map(|i| luminance(turbo(i as f32 / 100.0)))
            .collect();
        let peak = (0..lum.len())
            .max_by(|&a, &b| lum[a].total_cmp(&lum[b]))
            .unwrap();
        assert!(
            (40..=70).contains(&peak),
            "peak at t = {}",
            peak as f32 / 100.0
        );
        assert!(
            lum[..=peak].windows(2).all(|w| w[1] >= w[0] - 1.0),
            "rising"
        );
        assert!(
            lum[peak..].windows(2).all(|w| w[1] <= w[0] + 1.0),
            "falling"
        );
    }
}
