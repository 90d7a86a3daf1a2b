//! The reference's `flow2color` (spec §8.4): the Middlebury colour wheel, with the authors'
//! channel swap (u = Δy, v = Δx) and normalisation by the largest magnitude.

use image::RgbImage;

/// Segment lengths of the 55-colour wheel: red→yellow, yellow→green, green→cyan, cyan→blue,
/// blue→magenta, magenta→red.
const SEGMENTS: [usize; 6] = [15, 6, 4, 11, 13, 6];

/// The wheel's colours, 0–255 per channel, as floats.
pub fn color_wheel() -> Vec<[f64; 3]> {
    let mut wheel = Vec::with_capacity(SEGMENTS.iter().sum());
    let ramp = |i: usize, n: usize| (255.0 * i as f64 / n as f64).floor();
    let [ry, yg, gc, cb, bm, mr] = SEGMENTS;
    wheel.extend((0..ry).map(|i| [255.0, ramp(i, ry), 0.0]));
    wheel.extend((0..yg).map(|i| [255.0 - ramp(i, yg), 255.0, 0.0]));
    wheel.extend((0..gc).map(|i| [0.0, 255.0, ramp(i, gc)]));
    wheel.extend((0..cb).map(|i| [0.0, 255.0 - ramp(i, cb), 255.0]));
    wheel.extend((0..bm).map(|i| [ramp(i, bm), 0.0, 255.0]));
    wheel.extend((0..mr).map(|i| [255.0, 0.0, 255.0 - ramp(i, mr)]));
    wheel
}

/// Colour of a normalised displacement (u, v), uint8 per channel.
pub fn wheel_color(wheel: &[[f64; 3]], u: f64, v: f64) -> [u8; 3] {
    let ncols = wheel.len();
    let rad = (u * u + v * v).sqrt();
    let a = (-v).atan2(-u) / std::f64::consts::PI;
    let fk = (a + 1.0) / 2.0 * (ncols - 1) as f64;
    let k0 = (fk.floor() as usize).min(ncols - 1);
    let k1 = if k0 + 1 == ncols { 0 } else { k0 + 1 };
    let f = fk - k0 as f64;
    let mut out = [0u8; 3];
    for (i, o) in out.iter_mut().enumerate() {
        let col = (1.0 - f) * wheel[k0][i] / 255.0 + f * wheel[k1][i] / 255.0;
        let col = if rad <= 1.0 {
            1.0 - rad * (1.0 - col)
        } else {
            col * 0.75
        };
        *o = (255.0 * col).floor().clamp(0.0, 255.0) as u8;
    }
    out
}

/// Colours a flow given as Δx and Δy planes (h × w each, row-major), like the reference: both
/// components divided by the largest magnitude (+1e-5), non-finite values treated as zero.
pub fn flow_to_color(dx: &[f32], dy: &[f32], h: usize, w: usize) -> RgbImage {
    let wheel = color_wheel();
    let clean = |x: f32| if x.is_finite() { x as f64 } else { 0.0 };
    let max_rad = dx
        .iter()
        .zip(dy)
        .map(|(&x, &y)| (clean(x).powi(2) + clean(y).powi(2)).sqrt())
        .fold(0.0f64, f64::max);
    let norm = max_rad + 1e-5;
    RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let i = y as usize * w + x as usize;
        // The reference swaps the channels: u = Δy, v = Δx.
        image::Rgb(wheel_color(
            &wheel,
            clean(dy[i]) / norm,
            clean(dx[i]) / norm,
        ))
    })
}

/// [`flow_to_color`] of one flow tensor (2, h, w): Δx, Δy planes.
pub fn flow_tensor_to_color(flow: &candle_core::Tensor) -> candle_core::Result<RgbImage> {
    let (_, h, w) = flow.dims3()?;
    let dx = flow.get(0)?.flatten_all()?.to_vec1::<f32>()?;
    let dy = flow.get(1)?.flatten_all()?.to_vec1::<f32>()?;
    Ok(flow_to_color(&dx, &dy, h, w))
}
