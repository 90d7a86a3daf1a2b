//! `marionette bench`: times batch-1 GFLA forward passes and prints the median as the final line
//! `gfla_ms <median>`; a per-sub-network breakdown shows where the time goes.

use crate::model::gfla::flops::forward_flops;
use crate::model::Tracer;
use crate::pose::{self, Joint, Pose};
use anyhow::{Context, Result};
use candle_core::{DType, Tensor};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Architecture preset for random weights (a checkpoint brings its own architecture).
    #[arg(long, default_value = "fashion", value_parser = ["fashion", "market"])]
    pub config: String,
    /// Checkpoint to time; random weights of the preset's shapes when omitted.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Input size HxW (default: the preset's).
    #[arg(long, value_parser = super::parse_hw)]
    pub size: Option<(usize, usize)>,
    /// Timed runs.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Untimed warm-up runs.
    #[arg(long, default_value_t = 1)]
    pub warmup: usize,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// A standing person in the annotation frame, so flows and attention see realistic inputs.
fn template_pose(frame_hw: (usize, usize)) -> Pose {
    // (x, y) as fractions of the frame: nose, neck, r/l arms, hips, legs, face.
    const T: [(f32, f32); 18] = [
        (0.50, 0.12),
        (0.50, 0.22),
        (0.38, 0.22),
        (0.34, 0.38),
        (0.33, 0.52),
        (0.62, 0.22),
        (0.66, 0.38),
        (0.67, 0.52),
        (0.43, 0.52),
        (0.43, 0.70),
        (0.43, 0.88),
        (0.57, 0.52),
        (0.57, 0.70),
        (0.57, 0.88),
        (0.47, 0.10),
        (0.53, 0.10),
        (0.45, 0.11),
        (0.55, 0.11),
    ];
    let mut p = Pose::missing();
    for (j, (x, y)) in T.iter().enumerate() {
        p.set(
            j,
            Some(Joint::new(
                x * frame_hw.1 as f32,
                y * frame_hw.0 as f32,
                1.0,
            )),
        );
    }
    p
}

pub fn run(args: &BenchArgs) -> Result<()> {
    let device = super::parse_device(&args.device)?;
    // A checkpoint brings its own architecture; the preset only shapes random weights.
    let preset = args.weights.is_none().then_some(args.config.as_str());
    let (model, mut cfg) = super::render::load_model(args.weights.as_deref(), preset, &device)
        .context("building the model")?;
    if let Some(hw) = args.size {
        cfg.input_hw = hw;
        cfg.annotation_hw = hw;
        cfg.validate()?;
    }
    let (h, w) = cfg.input_hw;
    let flops = forward_flops(&cfg, (h, w));
    println!(
        "GFLA {h}×{w}, ngf {} attn {:?} kernels {:?}, device {:?}, {} threads",
        cfg.ngf,
        cfg.attn_layer,
        cfg.kernel_size,
        device,
        rayon::current_num_threads()
    );
    println!(
        "GFLOP per forward: {:.2} (source {:.2}, flow net {:.2}, target {:.2})",
        flops.total() / 1e9,
        flops.source / 1e9,
        flops.flow_net / 1e9,
        flops.target / 1e9
    );

    let image = Tensor::randn(0f32, 0.5, (1, 3, h, w), &device)?.clamp(-1f32, 1f32)?;
    let sp = template_pose(cfg.annotation_hw);
    let mut tp = sp.clone();
    if let Some(j) = tp.get(pose::skeleton::R_WRIST) {
        tp.set(
            pose::skeleton::R_WRIST,
            Some(Joint::new(j.x - 0.1 * w as f32, j.y - 0.3 * h as f32, 1.0)),
        );
    }
    let bp1 = pose::heatmap_tensor(&[sp], cfg.annotation_hw, (h, w), &device)?;
    let bp2 = pose::heatmap_tensor(&[tp], cfg.annotation_hw, (h, w), &device)?;
    let sync = |t: &Tensor| -> Result<()> {
        // Reading one value forces asynchronous devices to finish.
        t.flatten_all()?
            .get(0)?
            .to_dtype(DType::F32)?
            .to_scalar::<f32>()?;
        Ok(())
    };

    let total = args.warmup + args.runs.max(1);
    let bar = ProgressBar::new(total as u64).with_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message("forward passes");
    let (mut full, mut src_t, mut flow_t, mut tgt_t) = (vec![], vec![], vec![], vec![]);
    for i in 0..total {
        let t0 = Instant::now();
        let feats = model.source_net().forward(&image, &mut Tracer::off())?;
        sync(&feats.0[0])?;
        let t1 = Instant::now();
        let (flows, masks) = model
            .flow_net()
            .forward(&image, &bp1, &bp2, &mut Tracer::off())?;
        sync(&flows[0])?;
        let t2 = Instant::now();
        let (out, _) =
            model
                .target_net()
                .forward(&bp2, &feats, &flows, &masks, &mut Tracer::off())?;
        sync(&out)?;
        let t3 = Instant::now();
        bar.inc(1);
        if i >= args.warmup {
            let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
            full.push(ms(t0, t3));
            src_t.push(ms(t0, t1));
            flow_t.push(ms(t1, t2));
            tgt_t.push(ms(t2, t3));
        }
    }
    bar.finish_and_clear();
    let runs: Vec<String> = full.iter().map(|v| format!("{v:.1}")).collect();
    println!("runs (ms): {}", runs.join(" "));
    let med = median(&mut full);
    println!(
        "median breakdown (ms): source {:.1}, flow net {:.1}, target {:.1}",
        median(&mut src_t),
        median(&mut flow_t),
        median(&mut tgt_t)
    );
    println!(
        "throughput: {:.1} GFLOP/s",
        flops.total() / 1e9 / (med / 1e3)
    );
    println!("gfla_ms {med:.1}");
    Ok(())
}
