//! The CUDA side of our custom ops (`cuda` feature): the PTX that `build.rs` compiles from
//! `src/ops/*.cu`, and the few helpers every `cuda_fwd` shares. Kernels take contiguous f32
//! buffers; the op wrappers make their inputs contiguous before calling.

use candle_core::cuda_backend::cudarc::driver::{
    CudaFunction, CudaSlice, CudaStream, CudaView, LaunchArgs, LaunchConfig,
};
use candle_core::cuda_backend::{CudaDevice, WrapErr};
use candle_core::{CudaStorage, Layout, Result};
use std::sync::Arc;

pub(crate) use candle_core::cuda_backend::cudarc::driver::PushKernelArg;

/// One PTX module of ours: its name in candle's module cache and its text.
pub(crate) struct Module {
    name: &'static str,
    ptx: &'static str,
}

macro_rules! module {
    ($id:ident, $file:literal) => {
        pub(crate) const $id: Module = Module {
            name: concat!("marionette_", $file),
            ptx: include_str!(concat!(env!("OUT_DIR"), "/", $file, ".ptx")),
        };
    };
}
module!(BLOCK_EXTRACTOR, "block_extractor");
module!(LOCAL_ATTN, "local_attn");
module!(CONV_TAPS, "conv_taps");
module!(RESAMPLE2D, "resample2d");
module!(INSTANCE_NORM, "instance_norm");

/// Threads per block of the element-wise kernels.
pub(crate) const BLOCK: u32 = 256;

/// One kernel of ours on one device's stream (the stream candle runs everything else on, so
/// no synchronisation is needed around our launches).
pub(crate) struct Kernel {
    func: CudaFunction,
    stream: Arc<CudaStream>,
}

impl Kernel {
    /// The kernel `name` of `module` on `dev` (the module is loaded once per device, then
    /// cached by candle).
    pub(crate) fn new(dev: &CudaDevice, module: &Module, name: &str) -> Result<Self> {
        let func = dev
            .get_or_load_custom_func(name, module.name, module.ptx)?
            .into_cuda_function();
        Ok(Self {
            func,
            stream: dev.cuda_stream(),
        })
    }

    /// A launch of this kernel; push its arguments in the kernel's order.
    pub(crate) fn args(&self) -> LaunchArgs<'_> {
        self.stream.launch_builder(&self.func)
    }
}

/// A contiguous f32 view of a CUDA storage.
pub(crate) fn view<'a>(s: &'a CudaStorage, l: &Layout, op: &str) -> Result<CudaView<'a, f32>> {
    let slice = s
        .as_cuda_slice::<f32>()
        .map_err(|_| candle_core::Error::Msg(format!("{op}: expected f32 input")))?;
    match l.contiguous_offsets() {
        Some((start, end)) => Ok(slice.slice(start..end)),
        None => candle_core::bail!("{op}: input must be contiguous"),
    }
}

/// One thread per element of an `n`-element output, in blocks of [`BLOCK`].
pub(crate) fn grid_1d(n: usize) -> Result<LaunchConfig> {
    let blocks = n.div_ceil(BLOCK as usize);
    if blocks > u32::MAX as usize {
        candle_core::bail!("CUDA launch of {n} threads is too large");
    }
    Ok(LaunchConfig {
        grid_dim: (blocks as u32, 1, 1),
        block_dim: (BLOCK, 1, 1),
        shared_mem_bytes: 0,
    })
}

/// A kernel argument as the `int` the kernels take; refuses sizes past `i32::MAX`.
pub(crate) fn int(v: usize) -> Result<i32> {
    i32::try_from(v).map_err(|_| candle_core::Error::Msg(format!("size {v} too large for CUDA")))
}

/// Wraps a result buffer as candle storage of `dev`.
pub(crate) fn storage(slice: CudaSlice<f32>, dev: &CudaDevice) -> CudaStorage {
    CudaStorage::wrap_cuda_slice(slice, dev.clone())
}

/// One call of one of our kernels whose arguments are `(inputs…, output, ints…, floats…)`,
/// the shape every kernel of ours but the fused norm's has.
pub(crate) struct Call<'a> {
    pub module: &'a Module,
    pub kernel: &'a str,
    /// Contiguous f32 inputs, in the kernel's order.
    pub inputs: &'a [(&'a CudaStorage, &'a Layout)],
    /// Sizes, passed as `int`.
    pub ints: &'a [usize],
    pub floats: &'a [f32],
}

impl Call<'_> {
    /// Runs the kernel with `cfg` into a new buffer of `len` values: zeroed first when the
    /// kernel accumulates into it, else left for the kernel to write in full.
    pub(crate) fn run(&self, len: usize, zeroed: bool, cfg: LaunchConfig) -> Result<CudaStorage> {
        use candle_core::backend::BackendStorage;
        let dev = self.inputs[0].0.device();
        let out = if zeroed {
            dev.alloc_zeros::<f32>(len)?
        } else {
            // SAFETY: the kernel writes every element (the `zeroed` contract).
            unsafe { dev.alloc::<f32>(len)? }
        };
        let views = self
            .inputs
            .iter()
            .map(|(s, l)| view(s, l, self.kernel))
            .collect::<Result<Vec<_>>>()?;
        let ints = self
            .ints
            .iter()
            .map(|&v| int(v))
            .collect::<Result<Vec<i32>>>()?;
        let k = Kernel::new(dev, self.module, self.kernel)?;
        let mut args = k.args();
        for v in &views {
            args.arg(v);
        }
        args.arg(&out);
        for v in &ints {
            args.arg(v);
        }
        for v in self.floats {
            args.arg(v);
        }
        launch(cfg, args)?;
        Ok(storage(out, dev))
    }
}

/// Launches with `cfg` unless its grid is empty (nothing to do, and a zero-sized grid is a
/// CUDA error).
pub(crate) fn launch(cfg: LaunchConfig, mut args: LaunchArgs<'_>) -> Result<()> {
    let (x, y, z) = cfg.grid_dim;
    if x == 0 || y == 0 || z == 0 {
        return Ok(());
    }
    // SAFETY: every kernel bounds-checks its thread index against the sizes passed with it,
    // and the buffers were sized from the same shapes.
    unsafe { args.launch(cfg) }.w()?;
    Ok(())
}
