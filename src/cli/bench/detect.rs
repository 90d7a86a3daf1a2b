//! `marionette bench --model blazepose`: times the two BlazePose networks on our interpreter
//! (median of N), optionally next to MediaPipe's own runtime (LiteRT + XNNPACK) measured in
//! the same run through `tests/reference/litert_bench.py`, and prints where the time goes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::{Device, Tensor};

use super::args::BenchArgs;
use super::timing::median;
use crate::detect::crop::{detector_input, landmark_input, Roi, LANDMARK_INPUT};
use crate::detect::decode::DETECTOR_INPUT;
use crate::detect::models;
use crate::detect::tflite::Interpreter;
use crate::detect::PoseDetector;

/// Where one model's time goes.
struct ModelTimes {
    median_ms: f64,
    /// Median milliseconds per op type.
    per_type: BTreeMap<String, f64>,
    /// `(median ms, "index OP shape")` of the slowest single ops, slowest first.
    slowest: Vec<(f64, String)>,
    /// Median milliseconds and label of every op, by its index in the file.
    per_op: BTreeMap<usize, (f64, String)>,
}

/// Per-op-type totals and the 8 slowest of `ops` (`(median ms, "index OP shape")`).
fn breakdown<'a>(
    ops: impl Iterator<Item = &'a (f64, String)>,
) -> (BTreeMap<String, f64>, Vec<(f64, String)>) {
    let mut per_type: BTreeMap<String, f64> = BTreeMap::new();
    let mut slowest = Vec::new();
    for (ms, label) in ops {
        let op = label.split(' ').nth(1).unwrap_or("?").to_string();
        *per_type.entry(op).or_default() += ms;
        slowest.push((*ms, label.clone()));
    }
    slowest.sort_by(|a, b| b.0.total_cmp(&a.0));
    slowest.truncate(8);
    (per_type, slowest)
}

/// Prints a breakdown as two lines.
fn print_breakdown(name: &str, per_type: &BTreeMap<String, f64>, slowest: &[(f64, String)]) {
    let parts: Vec<String> = per_type
        .iter()
        .map(|(op, ms)| format!("{op} {ms:.2}"))
        .collect();
    println!("{name} per op type (median ms): {}", parts.join(", "));
    let slow: Vec<String> = slowest
        .iter()
        .map(|(ms, label)| format!("{ms:.2} ({label})"))
        .collect();
    println!("{name} slowest ops (ms): {}", slow.join(", "));
}

/// Median milliseconds of `model` on `input`, by op type and by op.
fn time_model(
    model: &Interpreter,
    input: &Tensor,
    warmup: usize,
    runs: usize,
) -> Result<ModelTimes> {
    let mut totals = Vec::new();
    let mut per_op: BTreeMap<usize, (String, Vec<f64>)> = BTreeMap::new();
    for i in 0..warmup + runs.max(1) {
        let mut ops = Vec::new();
        let start = Instant::now();
        let mut last = start;
        model.run_observed(std::slice::from_ref(input), |info, out| {
            let now = Instant::now();
            let label = format!("{} {} {:?}", info.op_index, info.op, out.dims());
            ops.push((info.op_index, label, (now - last).as_secs_f64() * 1e3));
            last = now;
        })?;
        if i >= warmup {
            totals.push(start.elapsed().as_secs_f64() * 1e3);
            for (index, label, ms) in ops {
                per_op
                    .entry(index)
                    .or_insert((label, Vec::new()))
                    .1
                    .push(ms);
            }
        }
    }
    let per_op: BTreeMap<usize, (f64, String)> = per_op
        .into_iter()
        .map(|(index, (label, mut v))| (index, (median(&mut v), label)))
        .collect();
    let (per_type, slowest) = breakdown(per_op.values());
    Ok(ModelTimes {
        median_ms: median(&mut totals),
        per_type,
        slowest,
        per_op,
    })
}

fn default_photo() -> Result<PathBuf> {
    crate::model::shipped::asset_dirs("samples")
        .into_iter()
        .map(|d| d.join("astronaut.png"))
        .find(|p| p.is_file())
        .context("no sample photo found; pass --image")
}

/// `(detector_ms, landmark_ms)` of LiteRT, from the reference script run by `python`.
fn litert_reference(
    python: &Path,
    paths: &models::ModelPaths,
    args: &BenchArgs,
) -> Result<(f64, f64)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/litert_bench.py");
    let out = std::process::Command::new(python)
        .arg(&script)
        .arg(&paths.detector)
        .arg(&paths.landmark)
        .args([
            "--threads",
            &candle_core::utils::get_num_threads().to_string(),
        ])
        .args(["--warmup", &args.warmup.max(1).to_string()])
        .args(["--runs", &args.runs.max(5).to_string()])
        .output()
        .with_context(|| format!("running {} {}", python.display(), script.display()))?;
    if !out.status.success() {
        bail!(
            "the LiteRT reference failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let line = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(line.trim().lines().last().unwrap_or(""))
        .with_context(|| format!("reading the LiteRT reference output `{}`", line.trim()))?;
    let get = |k: &str| {
        v[k].as_f64()
            .with_context(|| format!("no `{k}` in `{}`", line.trim()))
    };
    Ok((get("detector_ms")?, get("landmark_ms")?))
}

pub fn run(args: &BenchArgs) -> Result<()> {
    let paths = models::find()?;
    let photo = match &args.image {
        Some(p) => p.clone(),
        None => default_photo()?,
    };
    let img = crate::imaging::open_photo(&photo)?;
    let detector_model = Interpreter::load(&paths.detector)?;
    let landmark_model = Interpreter::load(&paths.landmark)?;
    let pipeline = PoseDetector::load(&paths)?;
    println!(
        "BlazePose on {} ({}x{}), {} threads",
        photo.display(),
        img.width(),
        img.height(),
        candle_core::utils::get_num_threads()
    );

    let (det_in, _) = detector_input(&img);
    let det_in = Tensor::from_vec(det_in, (1, DETECTOR_INPUT, DETECTOR_INPUT, 3), &Device::Cpu)?;
    let roi = match pipeline.detect(&img)? {
        Some(d) => d.roi,
        // No person: time the landmark model on a centred crop all the same.
        None => Roi {
            cx: img.width() as f32 / 2.0,
            cy: img.height() as f32 / 2.0,
            side: img.width().max(img.height()) as f32,
            rotation: 0.0,
        },
    };
    let lm_in = landmark_input(&img, &roi);
    let lm_in = Tensor::from_vec(lm_in, (1, LANDMARK_INPUT, LANDMARK_INPUT, 3), &Device::Cpu)?;

    let det = time_model(&detector_model, &det_in, args.warmup, args.runs)?;
    // What detection runs: the landmark graph without the segmentation branch.
    let lm = time_model(
        &landmark_model.pruned(&[0, 1, 3])?,
        &lm_in,
        args.warmup,
        args.runs,
    )?;
    // What detection with a matte runs: the same plus the segmentation head.
    let lm_matte = time_model(
        &landmark_model.pruned(&[0, 1, 3, 2])?,
        &lm_in,
        args.warmup,
        args.runs,
    )?;
    let lm_full = time_model(&landmark_model, &lm_in, args.warmup, args.runs)?;
    let (det_ms, lm_ms) = (det.median_ms, lm.median_ms);
    let mut whole = Vec::new();
    let mut stages: [Vec<f64>; 4] = Default::default();
    for i in 0..args.warmup + args.runs.max(1) {
        let t = Instant::now();
        let found = pipeline.detect(&img)?;
        if i >= args.warmup {
            whole.push(t.elapsed().as_secs_f64() * 1e3);
            if let Some(d) = found {
                let s = d.times;
                let parts = [
                    s.detector_crop_ms,
                    s.decode_ms,
                    s.landmark_crop_ms,
                    s.landmark_decode_ms,
                ];
                for (v, ms) in stages.iter_mut().zip(parts) {
                    v.push(ms);
                }
            }
        }
    }
    let mut matte_ms = Vec::new();
    let mut matte_whole = Vec::new();
    for i in 0..args.warmup + args.runs.max(1) {
        let t = Instant::now();
        let found = pipeline.detect_with_matte(&img)?;
        if i >= args.warmup {
            matte_whole.push(t.elapsed().as_secs_f64() * 1e3);
            if let Some((d, _)) = found {
                matte_ms.push(d.times.matte_ms);
            }
        }
    }
    for (name, times) in [("detector", &det), ("landmark", &lm)] {
        print_breakdown(name, &times.per_type, &times.slowest);
    }
    // The segmentation head: the matte graph's ops that the pose graph does not run.
    let (head_types, head_slowest) = breakdown(
        lm_matte
            .per_op
            .iter()
            .filter(|(index, _)| !lm.per_op.contains_key(index))
            .map(|(_, v)| v),
    );
    print_breakdown("segmentation head", &head_types, &head_slowest);
    println!("detector_ms {det_ms:.2}");
    println!(
        "landmark_ms {lm_ms:.2} (pose outputs only; the whole graph with segmentation: {:.2})",
        lm_full.median_ms
    );
    println!(
        "detect_total_ms {:.2} (crops, both networks, decoding)",
        median(&mut whole)
    );
    println!(
        "landmark_matte_ms {:.2} (pose outputs + segmentation: +{:.2} for the head)",
        lm_matte.median_ms,
        lm_matte.median_ms - lm_ms
    );
    println!(
        "matte_ms {:.2} (mask -> {}x{} photo, guided filter)",
        median(&mut matte_ms),
        img.width(),
        img.height()
    );
    println!("detect_with_matte_total_ms {:.2}", median(&mut matte_whole));
    let [a, b, c, d] = stages.map(|mut v| median(&mut v));
    println!(
        "  outside the networks (median ms): detector crop {a:.2}, box decoding {b:.2}, \
         landmark crop {c:.2}, landmark decoding {d:.2}"
    );
    if let Some(python) = &args.reference_python {
        let (ref_det, ref_lm) = litert_reference(python, &paths, args)?;
        println!(
            "litert_detector_ms {ref_det:.2}  ratio {:.2}x (goal <= 2x)",
            det_ms / ref_det
        );
        println!(
            "litert_landmark_ms {ref_lm:.2}  ratio {:.2}x (goal <= 2x; whole graph vs whole graph {:.2}x)",
            lm_ms / ref_lm,
            lm_full.median_ms / ref_lm
        );
        println!(
            "  with the segmentation head (the matte graph) vs LiteRT's whole graph: {:.2}x",
            lm_matte.median_ms / ref_lm
        );
    }
    Ok(())
}
