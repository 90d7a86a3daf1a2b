//! `marionette bench --ops`: the time per op type of a GFLA or PoNA forward pass, ours next to
//! PyTorch's on the same weights in the same run (`--reference-python`, through
//! `tests/reference/torch_peer.py`), so a regression shows as a ratio.

use crate::ops::profile;
use anyhow::{bail, Context, Result};
use candle_nn::Module;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What the PyTorch peer measured.
pub struct Peer {
    /// Median ms per forward pass.
    pub median_ms: f64,
    /// Self CPU ms per pass per op type (the groups of [`profile::GROUPS`] and `other`).
    pub ops: BTreeMap<String, f64>,
    /// The seeded random weights it used, under the official key names.
    pub weights: PathBuf,
}

/// Runs the peer: times `runs` passes after one warm-up, profiles `runs` more, and saves its
/// weights for our side. `None` (with the reason printed) when torch is not importable.
pub fn run_peer(
    python: &Path,
    model: &str,
    config: &str,
    size: Option<(usize, usize)>,
    runs: usize,
    threads: usize,
) -> Result<Option<Peer>> {
    let probe = Command::new(python)
        .args(["-c", "import torch, safetensors"])
        .output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        println!(
            "PyTorch side skipped: {} cannot import torch and safetensors",
            python.display()
        );
        return Ok(None);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/torch_peer.py");
    let weights = std::env::temp_dir().join(format!(
        "marionette-peer-{model}-{config}-{}.safetensors",
        std::process::id()
    ));
    let mut cmd = Command::new(python);
    cmd.arg(&script)
        .args([
            "bench", "--model", model, "--config", config, "--device", "cpu",
        ])
        .args(["--runs", &runs.to_string(), "--warmup", "1"])
        .args(["--profile", &runs.max(1).to_string()])
        .arg("--save-weights")
        .arg(&weights)
        .env("OMP_NUM_THREADS", threads.to_string());
    if let Some((h, w)) = size {
        cmd.args(["--size", &format!("{h}x{w}")]);
    }
    let out = cmd
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "torch_peer.py failed: {}{}",
            text,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut peer = Peer {
        median_ms: f64::NAN,
        ops: BTreeMap::new(),
        weights,
    };
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            [key, v] if key.starts_with("torch_") && key.ends_with("_ms") => {
                peer.median_ms = v.parse().unwrap_or(f64::NAN)
            }
            ["torch_op", name, v] => {
                peer.ops
                    .insert(name.to_string(), v.parse().unwrap_or(f64::NAN));
            }
            _ => {}
        }
    }
    if peer.median_ms.is_nan() {
        bail!("torch_peer.py printed no timing:\n{text}");
    }
    Ok(Some(peer))
}

/// Prints the per-op-type table: ours (self time per pass over `runs` profiled passes of
/// median `median_ms`), and the peer's with the ratio when there is one.
pub fn print_table(
    ours: &BTreeMap<&'static str, (std::time::Duration, u64)>,
    runs: usize,
    median_ms: f64,
    peer: Option<&Peer>,
) {
    let per_pass = |name: &str| {
        ours.get(name)
            .map_or(0.0, |(d, _)| d.as_secs_f64() * 1e3 / runs.max(1) as f64)
    };
    let covered: f64 = profile::GROUPS.iter().map(|g| per_pass(g)).sum();
    println!("per op type (ms per forward pass; other = the rest of the pass):");
    match peer {
        Some(_) => println!(
            "  {:<10} {:>9} {:>9} {:>7}",
            "op", "ours", "pytorch", "ratio"
        ),
        None => println!("  {:<10} {:>9}", "op", "ours"),
    }
    let rows = profile::GROUPS
        .iter()
        .map(|g| (g.to_string(), per_pass(g)))
        .chain([("other".to_string(), (median_ms - covered).max(0.0))])
        .chain([("total".to_string(), median_ms)]);
    for (name, ms) in rows {
        match peer {
            Some(p) => {
                let theirs = if name == "total" {
                    p.median_ms
                } else {
                    p.ops.get(&name).copied().unwrap_or(0.0)
                };
                let ratio = if theirs > 0.05 {
                    format!("{:.2}", ms / theirs)
                } else {
                    "-".into()
                };
                println!("  {name:<10} {ms:>9.1} {theirs:>9.1} {ratio:>7}");
            }
            None => println!("  {name:<10} {ms:>9.1}"),
        }
    }
    if let Some(p) = peer {
        println!("pytorch_ms {:.2}", p.median_ms);
        println!("ratio_vs_pytorch {:.3}", median_ms / p.median_ms);
    }
}

/// `marionette bench --model conv`: each convolution shape GFLA's fashion model runs, timed
/// alone (median of `runs`), as GFLOP/s: the layer as the models call it (the direct kernel
/// where the CPU has AVX-512) next to candle's own convolution.
pub fn run_conv_shapes(runs: usize) -> Result<()> {
    use crate::model::layers::{ShiftConv, UpConv};
    use candle_core::{Device, Tensor};
    use candle_nn::VarBuilder;
    let dev = Device::Cpu;
    // (kind, cin, cout, input h, input w): GFLA fashion at 256×256, then PoNA's at 256×176.
    let shapes: [(&str, usize, usize, usize, usize); 12] = [
        ("conv3", 64, 64, 256, 256),
        ("conv3", 128, 128, 128, 128),
        ("conv3", 256, 256, 64, 64),
        ("conv3", 256, 256, 32, 32),
        ("conv3", 64, 3, 256, 256),
        ("down4", 64, 128, 256, 256),
        ("up3", 256, 128, 64, 64),
        ("up3", 128, 64, 128, 128),
        ("conv3", 256, 256, 64, 44),
        ("conv3", 512, 512, 64, 44),
        ("conv7", 36, 64, 262, 182),
        ("conv1", 512, 640, 64, 44),
    ];
    println!("{}", super::timing::cpu_path());
    println!(
        "  {:<6} {:>5} {:>5} {:>5} {:>8} {:>9} {:>9}",
        "shape", "cin", "cout", "in", "GFLOP", "ours", "candle"
    );
    for (kind, cin, cout, n, m) in shapes {
        let x = Tensor::randn(0f32, 1.0, (1, cin, n, m), &dev)?;
        let (wshape, k) = match kind {
            "up3" => ((cin, cout, 3, 3), 3),
            "down4" => ((cout, cin, 4, 4), 4),
            "conv7" => ((cout, cin, 7, 7), 7),
            "conv1" => ((cout, cin, 1, 1), 1),
            _ => ((cout, cin, 3, 3), 3),
        };
        let w = Tensor::randn(0f32, 0.05, wshape, &dev)?;
        let b = Tensor::zeros(cout, candle_core::DType::F32, &dev)?;
        let vb = VarBuilder::from_tensors(
            [("weight".to_string(), w.clone()), ("bias".to_string(), b)].into(),
            candle_core::DType::F32,
            &dev,
        );
        // Multiply-adds: every output pixel (input pixel for the transposed conv) × k² taps.
        let px = match kind {
            "down4" => n * m / 4,
            "conv7" => (n - 6) * (m - 6),
            _ => n * m,
        };
        let gflop = 2.0 * (cin * cout * k * k * px) as f64 / 1e9;
        let (ours, theirs) = match kind {
            "up3" => {
                let l = UpConv::new(vb, cin, cout)?;
                (
                    super::timing::time(1, runs, || Ok(l.forward(&x)?))?.0,
                    super::timing::time(1, runs, || Ok(x.conv_transpose2d(&w, 1, 1, 2, 1)?))?.0,
                )
            }
            "down4" => {
                let l = crate::model::layers::StrideConv::new(vb, cin, cout, 4, 1)?;
                (
                    super::timing::time(1, runs, || Ok(l.forward(&x)?))?.0,
                    super::timing::time(1, runs, || Ok(x.conv2d(&w, 1, 2, 1, 1)?))?.0,
                )
            }
            _ => {
                let pad = if k == 3 { 1 } else { 0 };
                let l = ShiftConv::new(vb, cin, cout, k, pad)?;
                (
                    super::timing::time(1, runs, || Ok(l.forward(&x)?))?.0,
                    super::timing::time(1, runs, || Ok(x.conv2d(&w, pad, 1, 1, 1)?))?.0,
                )
            }
        };
        println!(
            "  {kind:<6} {cin:>5} {cout:>5} {:>9} {gflop:>8.2} {:>9.1} {:>9.1}   GFLOP/s",
            format!("{n}×{m}"),
            gflop / ours * 1e3,
            gflop / theirs * 1e3
        );
    }
    Ok(())
}
