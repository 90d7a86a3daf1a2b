//! The training scenes in memory: as samples on a CPU, as input tensors on a GPU.

use super::{truth_tensor, Sample};
use crate::composite::refine::{batch_input, WorkingView};
use anyhow::Result;
use candle_core::{Device, Tensor};
use rayon::prelude::*;

/// The training scenes: on a GPU their input tensors are built once and kept there (a batch
/// is then a few gathers), on a CPU each batch is built from the samples (the tensors of a
/// thousand scenes would not fit a laptop's memory).
pub enum Pool {
    Samples(Vec<Sample>),
    /// Chunks of [`POOL_CHUNK`] scenes: (input, gate, truth) each. One tensor of six thousand
    /// scenes' inputs holds over 2³² values, past what candle's CUDA gather indexes correctly
    /// (it paired scenes' inputs with other scenes' truths in our first GPU run).
    Tensors(Vec<(Tensor, Tensor, Tensor)>),
}

/// Scenes per chunk of a GPU pool: 512 · 28 · 256 · 192 ≈ 7·10⁸ values, well under 2³¹.
pub const POOL_CHUNK: usize = 512;

impl Pool {
    pub fn new(samples: Vec<Sample>, dev: &Device) -> Result<Self> {
        if dev.is_cpu() {
            return Ok(Pool::Samples(samples));
        }
        Self::tensors(&samples, dev, POOL_CHUNK)
    }

    /// The GPU form: the inputs built once, in chunks of `chunk` scenes, moved to `dev`.
    pub fn tensors(samples: &[Sample], dev: &Device, chunk: usize) -> Result<Self> {
        let chunks = samples
            .par_chunks(chunk.max(1))
            .map(|chunk| {
                let views: Vec<&WorkingView> = chunk.iter().map(|s| &s.view).collect();
                let refs: Vec<&Sample> = chunk.iter().collect();
                let (x, gate) = batch_input(&views, &Device::Cpu)?;
                let truth = truth_tensor(&refs, &Device::Cpu)?;
                Ok((x, gate, truth))
            })
            .collect::<Result<Vec<_>>>()?;
        let on_dev = chunks
            .into_iter()
            .map(|(x, g, t)| Ok((x.to_device(dev)?, g.to_device(dev)?, t.to_device(dev)?)))
            .collect::<Result<_>>()?;
        Ok(Pool::Tensors(on_dev))
    }

    pub fn len(&self) -> usize {
        match self {
            Pool::Samples(s) => s.len(),
            Pool::Tensors(chunks) => chunks.iter().map(|c| c.0.dim(0).unwrap_or(0)).sum(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Input, gate and truth of the scenes `picks`.
    pub(super) fn batch(&self, picks: &[u32], dev: &Device) -> Result<(Tensor, Tensor, Tensor)> {
        match self {
            Pool::Samples(s) => {
                let batch: Vec<&Sample> = picks.iter().map(|&i| &s[i as usize]).collect();
                let views: Vec<&WorkingView> = batch.iter().map(|s| &s.view).collect();
                let (x, gate) = batch_input(&views, dev)?;
                Ok((x, gate, truth_tensor(&batch, dev)?))
            }
            Pool::Tensors(chunks) => {
                let mut parts = (Vec::new(), Vec::new(), Vec::new());
                let per = chunks.first().map_or(1, |c| c.0.dim(0).unwrap_or(1));
                for &i in picks {
                    let (c, j) = (i as usize / per, i as usize % per);
                    let (x, g, t) = &chunks[c];
                    parts.0.push(x.narrow(0, j, 1)?);
                    parts.1.push(g.narrow(0, j, 1)?);
                    parts.2.push(t.narrow(0, j, 1)?);
                }
                Ok((
                    Tensor::cat(&parts.0, 0)?,
                    Tensor::cat(&parts.1, 0)?,
                    Tensor::cat(&parts.2, 0)?,
                ))
            }
        }
    }
}
