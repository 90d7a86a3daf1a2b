//! Small layers the authors' blocks are built from and candle-nn does not provide in their exact
//! form: affine InstanceNorm without running statistics, LeakyReLU, reflection padding.

use candle_core::{Result, Tensor, D};
use candle_nn::VarBuilder;

/// `InstanceNorm2d(affine=True, track_running_stats=False)`: per sample and channel, mean and
/// biased variance over H×W, identical in training and evaluation.
#[derive(Clone, Debug)]
pub struct InstanceNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl InstanceNorm {
    pub const EPS: f64 = 1e-5;

    pub fn new(channels: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            weight: vb.get(channels, "weight")?,
            bias: vb.get(channels, "bias")?,
            eps: Self::EPS,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, c, h, w) = x.dims4()?;
        let x3 = x.reshape((b, c, h * w))?;
        let mean = x3.mean_keepdim(D::Minus1)?;
        let centred = x3.broadcast_sub(&mean)?;
        let var = centred.sqr()?.mean_keepdim(D::Minus1)?;
        let normed = centred.broadcast_div(&(var + self.eps)?.sqrt()?)?;
        normed
            .broadcast_mul(&self.weight.reshape((1, c, 1))?)?
            .broadcast_add(&self.bias.reshape((1, c, 1))?)?
            .reshape((b, c, h, w))
    }
}

/// LeakyReLU with the given slope in (0, 1): `max(x, slope·x)`, the same values as PyTorch's
/// `where(x > 0, x, slope·x)` in two passes instead of four.
pub fn leaky_relu(x: &Tensor, slope: f64) -> Result<Tensor> {
    x.maximum(&x.affine(slope, 0.0)?)
}

/// Reflection padding by `p` on both spatial axes (PyTorch `ReflectionPad2d(p)`).
pub fn reflection_pad2d(x: &Tensor, p: usize) -> Result<Tensor> {
    if p == 0 {
        return Ok(x.clone());
    }
    let (_, _, h, w) = x.dims4()?;
    if p >= h || p >= w {
        candle_core::bail!("reflection padding {p} needs a map larger than {h}×{w}");
    }
    let reflect = |n: usize| -> Vec<u32> {
        (0..n + 2 * p)
            .map(|i| {
                let j = i as i64 - p as i64;
                let j = if j < 0 { -j } else if j >= n as i64 { 2 * (n as i64 - 1) - j } else { j };
                j as u32
            })
            .collect()
    };
    let rows = Tensor::new(reflect(h).as_slice(), x.device())?;
    let cols = Tensor::new(reflect(w).as_slice(), x.device())?;
    x.index_select(&rows, 2)?.index_select(&cols, 3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn reflection_pad_matches_definition() -> Result<()> {
        let x = Tensor::arange(0f32, 12.0, &Device::Cpu)?.reshape((1, 1, 3, 4))?;
        let y = reflection_pad2d(&x, 1)?;
        assert_eq!(y.dims(), &[1, 1, 5, 6]);
        let rows = y.squeeze(0)?.squeeze(0)?.to_vec2::<f32>()?;
        // Row 0 reflects row 1 (values 4..8), column 0 reflects column 1.
        assert_eq!(rows[0], vec![5.0, 4.0, 5.0, 6.0, 7.0, 6.0]);
        assert_eq!(rows[1], vec![1.0, 0.0, 1.0, 2.0, 3.0, 2.0]);
        assert_eq!(rows[4], vec![5.0, 4.0, 5.0, 6.0, 7.0, 6.0]);
        Ok(())
    }

    #[test]
    fn instance_norm_normalises_each_channel() -> Result<()> {
        let dev = Device::Cpu;
        let x = Tensor::arange(0f32, 2.0 * 3.0 * 16.0, &dev)?.reshape((2, 3, 4, 4))?.sqr()?;
        let vb = VarBuilder::from_tensors(
            [
                ("weight".to_string(), Tensor::new(&[1f32, 2.0, 0.5], &dev)?),
                ("bias".to_string(), Tensor::new(&[0f32, 1.0, -1.0], &dev)?),
            ]
            .into_iter()
            .collect(),
            candle_core::DType::F32,
            &dev,
        );
        let y = InstanceNorm::new(3, vb)?.forward(&x)?.reshape((2, 3, 16))?;
        let mean = y.mean(2)?.to_vec2::<f32>()?;
        let std = y.broadcast_sub(&y.mean_keepdim(2)?)?.sqr()?.mean(2)?.sqrt()?.to_vec2::<f32>()?;
        for b in 0..2 {
            for (c, (m, s)) in [(0f32, 1f32), (1.0, 2.0), (-1.0, 0.5)].iter().enumerate() {
                assert!((mean[b][c] - m).abs() < 1e-4, "mean {b},{c}");
                assert!((std[b][c] - s).abs() < 1e-3, "std {b},{c}: {}", std[b][c]);
            }
        }
        Ok(())
    }
}
