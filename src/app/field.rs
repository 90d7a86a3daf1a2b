//! A float image — flow (Δx, Δy) or a scalar map — as the model's results and the probe hand
//! it to the overlays and exports. Its own module because the engine and the probe (no GUI)
//! produce it and the overlays (GUI) colour it.

use anyhow::{ensure, Result};

/// Largest accepted field side: the WebGPU default `max_texture_dimension_2d`.
const MAX_FIELD_SIDE: u32 = 8192;

/// A float image to be coloured on the GPU: `channels` = 2 (flow Δx, Δy in pixels of the field) or 1 (scalar), planar layout: plane c at data[c*w*h ..], rows top to bottom.
#[derive(Clone, Debug, PartialEq)]
pub struct FloatField {
    pub width: u32,
    pub height: u32,
    pub channels: u8,
    pub data: Vec<f32>,
}

impl FloatField {
    /// Validates the shape so that every later consumer (upload, CPU colouring) can index freely:
    /// `len == w*h*c`, `1 <= w, h <= 8192`, channels 1 or 2.
    pub fn new(width: u32, height: u32, channels: u8, data: Vec<f32>) -> Result<Self> {
        check_shape(width, height, channels, data.len())?;
        Ok(Self {
            width,
            height,
            channels,
            data,
        })
    }

    /// Max over pixels of sqrt(sum of squares of channels), non-finite values counted as 0.
    /// Accumulated in f64 like the reference's `flow_to_color`, so the flow look matches it.
    pub fn max_magnitude(&self) -> f32 {
        let n = self.cells();
        (0..n)
            .map(|i| {
                (0..self.channels as usize)
                    .map(|c| (self.value(c, i) as f64).powi(2))
                    .sum::<f64>()
                    .sqrt()
            })
            .fold(0.0f64, f64::max) as f32
    }

    pub(crate) fn cells(&self) -> usize {
        self.width as usize * self.height as usize
    }

    /// Value of channel `c` at cell `i`, sanitised; a missing channel (Δy of a scalar) reads 0,
    /// as the GPU's R32Float texture does. Missing data (a hand-built, too short field) reads 0
    /// too, so bad data never panics.
    pub(crate) fn value(&self, c: usize, i: usize) -> f32 {
        if c >= self.channels as usize {
            return 0.0;
        }
        let value = self.data.get(c * self.cells() + i).copied();
        value.map_or(0.0, finite_or_zero)
    }
}

/// The invariants of [`FloatField::new`]; rechecked before upload because the fields are public.
pub(crate) fn check_shape(width: u32, height: u32, channels: u8, len: usize) -> Result<()> {
    ensure!(
        width >= 1 && height >= 1,
        "float field must be at least 1×1, got {width}×{height}"
    );
    ensure!(
        width <= MAX_FIELD_SIDE && height <= MAX_FIELD_SIDE,
        "float field {width}×{height} exceeds the {MAX_FIELD_SIDE} px texture limit"
    );
    ensure!(
        channels == 1 || channels == 2,
        "float field needs 1 (scalar) or 2 (flow) channels, got {channels}"
    );
    let expected = width as usize * height as usize * channels as usize;
    ensure!(
        len == expected,
        "float field {width}×{height}×{channels} needs {expected} values, got {len}"
    );
    Ok(())
}

/// Non-finite values read as 0 everywhere (CPU colouring, GPU upload).
pub(crate) fn finite_or_zero(x: f32) -> f32 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(w: u32, h: u32, c: u8, data: Vec<f32>) -> FloatField {
        FloatField::new(w, h, c, data).expect("valid field")
    }

    #[test]
    fn new_rejects_bad_shapes() {
        let cases = [
            (0, 1, 1, 0, "at least 1×1"),
            (1, 0, 2, 0, "at least 1×1"),
            (8193, 1, 1, 8193, "texture limit"),
            (2, 2, 3, 12, "1 (scalar) or 2 (flow)"),
            (2, 2, 0, 0, "1 (scalar) or 2 (flow)"),
            (2, 2, 2, 7, "needs 8 values, got 7"),
        ];
        for (w, h, c, len, msg) in cases {
            let err = FloatField::new(w, h, c, vec![0.0; len]).unwrap_err();
            assert!(err.to_string().contains(msg), "{w}×{h}×{c}: {err}");
        }
        assert!(FloatField::new(8192, 1, 1, vec![0.0; 8192]).is_ok());
    }

    #[test]
    fn max_magnitude_ignores_non_finite() {
        // Planar: Δx = [3, NaN, inf, 0], Δy = [4, 1, 0, -2].
        let f = field(
            2,
            2,
            2,
            vec![3.0, f32::NAN, f32::INFINITY, 0.0, 4.0, 1.0, 0.0, -2.0],
        );
        assert_eq!(f.max_magnitude(), 5.0);
        let nan_only = field(1, 1, 1, vec![f32::NAN]);
        assert_eq!(nan_only.max_magnitude(), 0.0);
        let scalar = field(3, 1, 1, vec![-7.0, 2.0, f32::NEG_INFINITY]);
        assert_eq!(scalar.max_magnitude(), 7.0);
    }
}
