//! ADD with a fused activation (one pass instead of candle's add then clamp).

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape};

use super::{activate, f32_slice};
use crate::detect::tflite::schema::Activation;

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
        let mut out: Vec<f32> = a.iter().zip(b).map(|(x, y)| x + y).collect();
        activate(&mut out, self.0);
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}
