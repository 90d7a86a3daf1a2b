//! `marionette bench --model composite`: the layered renderer's costs on a photo of about a
//! megapixel (default: the bundled cameraman, scaled to 1024×1024), split as the editor splits
//! them. Per photo, off the edit path: the matte (landmark model + segmentation head on the
//! skeleton's crop, edge refinement) and the PatchMatch plate. Per edit: the puppet's warp,
//! ownership, hidden-person fill and composite (`puppet+composite`, the default), and the
//! network's edit brought up to the photo and composited (`model+composite`: upsampling, the
//! skeletons' ownership, colour matching; the network's own run excluded), and the refined
//! method (the puppet's composite corrected by the shipped refiner, its run included). Median
//! of N each; last line `composite_ms <median per-edit puppet composite>`.

use anyhow::{Context, Result};

use super::args::BenchArgs;
use super::timing::time;
use crate::composite::matte_layers;
use crate::composite::pipeline::{composite_edit, CropPolicy, Edit, Method, NetworkRunner};
use crate::detect::PoseDetector;
use crate::pose::skeleton::{R_ELBOW, R_WRIST};
use crate::pose::Joint;

/// About a megapixel.
const DEFAULT_HW: (usize, usize) = (1024, 1024);

pub fn run(args: &BenchArgs) -> Result<()> {
    let path = match &args.image {
        Some(p) => p.clone(),
        None => {
            crate::app::editor::first_sample().context("the bundled cameraman sample is missing")?
        }
    };
    let photo = crate::imaging::open_photo(&path)?;
    let (h, w) = args.size.unwrap_or(DEFAULT_HW);
    let photo = image::imageops::resize(
        &photo,
        w as u32,
        h as u32,
        image::imageops::FilterType::Triangle,
    );
    let detector = PoseDetector::load_default()?;
    let source = detector
        .detect(&photo)?
        .context("no person found to composite")?
        .pose;
    // The edit: the right wrist (else the elbow) raised by a third of the photo.
    let mut target = source.clone();
    let j = [R_WRIST, R_ELBOW]
        .into_iter()
        .find(|&j| source.get(j).is_some())
        .context("neither the right wrist nor elbow was found")?;
    let p = source.get(j).expect("checked");
    target.set(j, Some(Joint::new(p.x, p.y - h as f32 / 3.0, p.confidence)));
    println!(
        "{} at {w}×{h} ({:.2} MP), the {} raised by {} px; {} runs after {} warm-up",
        path.display(),
        (w * h) as f64 / 1e6,
        if j == R_WRIST {
            "right wrist"
        } else {
            "right elbow"
        },
        h / 3,
        args.runs,
        args.warmup
    );

    let (matte_ms, matte) = time(args.warmup, args.runs, || {
        detector.matte_for_pose(&photo, &source)
    })?;
    let (plate_ms, layers) = time(args.warmup, args.runs, || {
        matte_layers(&photo, &matte, &source, &|| false)
    })?;
    println!(
        "per photo: matte {matte_ms:.1} ms, plate (PatchMatch) {plate_ms:.1} ms, together {:.1} ms \
         ({:.2} s per megapixel)",
        matte_ms + plate_ms,
        (matte_ms + plate_ms) / 1e3 / ((w * h) as f64 / 1e6)
    );

    let cfg = Default::default();
    let edit = Edit {
        source: &source,
        target: &target,
        puppet: &cfg,
    };
    // The first edit of a photo also makes what every later one shares: the puppet's coarse
    // copy, the person's own colours at the matte's edge and which part owns each pixel.
    let started = std::time::Instant::now();
    composite_edit(&layers, Method::Puppet, &edit, None)?;
    let first_ms = started.elapsed().as_secs_f64() * 1e3;
    let (puppet_ms, _) = time(args.warmup, args.runs, || {
        composite_edit(&layers, Method::Puppet, &edit, None)
    })?;
    // A still (`render`, the editor's export): the uncovered cloth's detail at the photo's
    // resolution, from one fill per photo and skeleton of the body under the arms, which the
    // first such edit makes.
    let still_cfg = crate::puppet::PuppetConfig::still();
    let still = Edit {
        source: &source,
        target: &target,
        puppet: &still_cfg,
    };
    let started = std::time::Instant::now();
    composite_edit(&layers, Method::Puppet, &still, None)?;
    let first_still_ms = started.elapsed().as_secs_f64() * 1e3;
    let (still_ms, _) = time(args.warmup, args.runs, || {
        composite_edit(&layers, Method::Puppet, &still, None)
    })?;

    // A network edit of the shipped model's shape (its finest level is 1/4 of 128×96 on the
    // crop around both skeletons); its values do not change the cost.
    let weights = crate::model::shipped::default_gfla_weights()?;
    let model = crate::model::Generator::load(
        crate::model::ModelKind::Gfla,
        Some(&weights),
        None,
        &candle_core::Device::Cpu,
    )?;
    let mut runner = NetworkRunner::new(model, candle_core::Device::Cpu, CropPolicy::Tight);
    let run = runner.run(None, &photo, &source, &target)?;
    let outputs = run.outputs()?;
    let placed = run.placed(&outputs);
    let (network_ms, _) = time(args.warmup, args.runs, || {
        composite_edit(&layers, Method::Network, &edit, Some(&placed))
    })?;
    let mp = (w * h) as f64 / 1e6;
    println!(
        "per edit: puppet+composite {puppet_ms:.1} ms ({:.1} ms per megapixel), model+composite \
         {network_ms:.1} ms (network run excluded); the photo's first edit {first_ms:.0} ms (the \
         coarse copy, the edge colours and the part labels, made once per photo and skeleton)",
        puppet_ms / mp
    );
    println!(
        "per edit: still {still_ms:.1} ms (the photo-resolution detail; the first still edit \
         {first_still_ms:.0} ms, with the fill under the arms made once per photo and skeleton)"
    );
    // The refined method: the puppet's composite, then the refiner on its working crop.
    match crate::composite::pipeline::RefinerRunner::load(None, &candle_core::Device::Cpu) {
        Ok(refiner) => {
            let (refined_ms, _) =
                time(args.warmup, args.runs, || refiner.composite(&layers, &edit))?;
            let (h, w) = refiner.config.working_hw;
            println!(
                "per edit: refined {refined_ms:.1} ms (refiner on its {w}×{h} crop and the \
                 correction brought up: {:.1} ms, {:.2} GFLOP)",
                refined_ms - puppet_ms,
                refiner.config.flops((h, w)) / 1e9
            );
        }
        Err(e) => println!("refined: skipped ({e:#})"),
    }
    println!("composite_ms {puppet_ms:.2}");
    Ok(())
}
