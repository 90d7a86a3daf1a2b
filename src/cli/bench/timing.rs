//! What every benchmark shares: the timing loop, the median, and the CPU path header.

use anyhow::{Context, Result};
use std::time::Instant;

/// Which CPU path the kernels take, for the benchmarks' header: the instruction set (see
/// `MARIONETTE_SIMD`) and whether the convolutions run the direct kernels or the
/// matrix-product path (`MARIONETTE_TAP_CONV=0`, or no SIMD tile).
pub(crate) fn cpu_path() -> String {
    let isa = crate::ops::simd::isa();
    let convs = if crate::ops::tap_conv::available() {
        format!(
            "direct {} kernels, {}",
            isa.label(),
            crate::ops::tap_conv::winograd_label()
        )
    } else {
        "matrix products (no direct kernels)".to_string()
    };
    format!(
        "CPU path: {} (norm, softmax), convolutions: {convs}",
        isa.label()
    )
}

/// Median ms of `f` over `runs` after `warmup`, and its last result.
pub(crate) fn time<T>(
    warmup: usize,
    runs: usize,
    mut f: impl FnMut() -> Result<T>,
) -> Result<(f64, T)> {
    let mut ms = Vec::new();
    let mut last = None;
    for i in 0..warmup + runs.max(1) {
        let start = Instant::now();
        let out = f()?;
        if i >= warmup {
            ms.push(start.elapsed().as_secs_f64() * 1e3);
        }
        last = Some(out);
    }
    Ok((median(&mut ms), last.context("no run")?))
}

/// The median of `v` (sorted in place); NaN when empty.
pub(crate) fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}
