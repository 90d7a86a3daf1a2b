//! ADD with a fused activation (one pass instead of candle's add then clamp).

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape};
use rayon::prelude::*;

use super::{activate, f32_slice};
use crate::detect::tflite::schema::Activation;

/// Values per parallel task: small adds stay on one thread.
const ADD_BLOCK: usize = 1 << 16;

/// Element-wise sum of two tensors of the same shape, then the activation.
#[derive(Clone, Copy, Debug)]
pub struct AddAct(pub Activation);

impl CustomOp2 for AddAct {
    fn name(&self) -> &'static str {
        "tflite-add"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        if l1.shape() != l2.shape() {
            candle_core::bail!("add: shapes {:?} and {:?} differ", l1.shape(), l2.shape());
        }
        let a = f32_slice(s1, l1, self.name())?;
        let b = f32_slice(s2, l2, self.name())?;
        let mut out = vec![0f32; a.len()];
        // In parallel blocks: the segmentation head adds 256x256x8 maps.
        out.par_chunks_mut(ADD_BLOCK)
            .zip(a.par_chunks(ADD_BLOCK).zip(b.par_chunks(ADD_BLOCK)))
            .for_each(|(o, (a, b))| {
                for ((o, x), y) in o.iter_mut().zip(a).zip(b) {
                    *o = x + y;
                }
                activate(o, self.0);
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}
