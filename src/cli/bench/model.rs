//! `marionette bench --model gfla|pona`: times batch-1 forward passes of a generator and
//! prints the median as the final line `<model>_ms <median>` (e.g. `gfla_ms 982.3`). For GFLA a
//! per-sub-network breakdown shows where the time goes.

use super::args::BenchArgs;
use super::timing::{cpu_path, median};
use crate::model::{Generator, ModelKind, Tracer};
use crate::pose::{self, Joint, Pose};
use anyhow::{Context, Result};
use candle_core::{DType, Tensor};
use indicatif::{ProgressBar, ProgressStyle};
use std::time::Instant;

/// A standing person in a frame of `frame_hw`, so flows and attention see realistic inputs.
fn template_pose(frame_hw: (usize, usize)) -> Pose {
    // (x, y) as fractions of the frame: nose, neck, right arm, left arm, hips, legs, face.
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

/// Times batch-1 forward passes of `args.model` (GFLA or PoNA).
pub fn run(args: &BenchArgs) -> Result<()> {
    let device = crate::cli::parse_device(&args.device)?;
    let kind = ModelKind::parse(&args.model)?;
    // A checkpoint brings its own architecture; the preset only shapes random weights.
    let peer = match &args.reference_python {
        Some(python) if args.weights.is_none() => super::ops::run_peer(
            python,
            &args.model,
            &args.config,
            args.size,
            args.runs,
            rayon::current_num_threads(),
        )?,
        Some(_) => {
            println!("PyTorch side skipped: it times its own seeded weights, not --weights");
            None
        }
        None => None,
    };
    let weights = peer
        .as_ref()
        .map(|p| p.weights.as_path())
        .or(args.weights.as_deref());
    let preset = weights.is_none().then_some(args.config.as_str());
    let loaded = Generator::load(kind, weights, preset, &device).context("building the model");
    if let Some(p) = &peer {
        let _ = std::fs::remove_file(&p.weights);
    }
    let mut model = loaded?;
    if let Some(hw) = args.size {
        model = model.with_input_hw(hw)?;
    }
    let (h, w) = model.input_hw();
    let flops = model.flops();
    println!(
        "{}, on {}, {} CPU threads",
        model.describe(),
        crate::cli::device_name(&device),
        rayon::current_num_threads()
    );
    println!("GFLOP per forward: {:.2}", flops / 1e9);
    if device.is_cpu() {
        println!("{}", cpu_path());
    }
    if let Generator::Gfla(g) = &model {
        let f = crate::model::gfla::flops::forward_flops(g.config(), (h, w));
        println!(
            "  source {:.2}, flow net {:.2}, target {:.2}",
            f.source / 1e9,
            f.flow_net / 1e9,
            f.target / 1e9
        );
    }

    let image = Tensor::randn(0f32, 0.5, (1, 3, h, w), &device)?.clamp(-1f32, 1f32)?;
    let frame = model.keypoint_frame_hw();
    let sp = template_pose(frame);
    let mut tp = sp.clone();
    if let Some(j) = tp.get(pose::skeleton::R_WRIST) {
        let raised = Joint::new(j.x - 0.1 * frame.1 as f32, j.y - 0.3 * frame.0 as f32, 1.0);
        tp.set(pose::skeleton::R_WRIST, Some(raised));
    }
    let prior = model.encode_prior(
        std::slice::from_ref(&sp),
        std::slice::from_ref(&tp),
        &device,
    )?;
    let bp1 = model.encode_poses(&[sp], &device)?;
    let bp2 = model.encode_poses(&[tp], &device)?;
    // Reading one value forces asynchronous devices to finish.
    let sync = |t: &Tensor| -> Result<()> {
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
    // On a GPU the work is queued asynchronously: a sync between sub-networks would add
    // round trips the editor never makes, so there the whole pass is timed with one sync.
    let split_timing = device.is_cpu();
    let (mut full, mut parts) = (vec![], vec![[0f64; 3]; 0]);
    for i in 0..total {
        let t0 = Instant::now();
        let mut split = [0f64; 3];
        match &model {
            // GFLA on the CPU: time the three sub-networks separately.
            Generator::Gfla(g) if split_timing => {
                let feats = g.source_net().forward(&image, &mut Tracer::off())?;
                sync(&feats.0[0])?;
                let t1 = Instant::now();
                let (flows, masks) = g.flow_net().forward(
                    &image,
                    &bp1,
                    &bp2,
                    prior.as_deref(),
                    &mut Tracer::off(),
                )?;
                sync(&flows[0])?;
                let t2 = Instant::now();
                let (out, _) =
                    g.target_net()
                        .forward(&bp2, &feats, &flows, &masks, &mut Tracer::off())?;
                sync(&out)?;
                let t3 = Instant::now();
                split = [
                    (t1 - t0).as_secs_f64(),
                    (t2 - t1).as_secs_f64(),
                    (t3 - t2).as_secs_f64(),
                ];
            }
            _ => sync(&model.generate(&image, &bp1, &bp2, prior.as_deref())?.image)?,
        }
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        bar.inc(1);
        if i >= args.warmup {
            full.push(ms);
            parts.push(split.map(|s| s * 1e3));
        }
    }
    bar.finish_and_clear();
    let runs: Vec<String> = full.iter().map(|v| format!("{v:.1}")).collect();
    println!("runs (ms): {}", runs.join(" "));
    if kind == ModelKind::Gfla && split_timing {
        let col = |i: usize| median(&mut parts.iter().map(|p| p[i]).collect::<Vec<_>>());
        println!(
            "median breakdown (ms): source {:.1}, flow net {:.1}, target {:.1}",
            col(0),
            col(1),
            col(2)
        );
    }
    let med = median(&mut full);
    println!("throughput: {:.1} GFLOP/s", flops / 1e9 / (med / 1e3));
    if args.ops || peer.is_some() {
        crate::ops::profile::enable(true);
        for _ in 0..args.runs.max(1) {
            sync(&model.generate(&image, &bp1, &bp2, prior.as_deref())?.image)?;
        }
        let ops = crate::ops::profile::totals();
        crate::ops::profile::enable(false);
        super::ops::print_table(&ops, args.runs.max(1), med, peer.as_ref());
    }
    // Two decimals: GPU passes take milliseconds.
    println!("{}_ms {med:.2}", kind.name());
    Ok(())
}
