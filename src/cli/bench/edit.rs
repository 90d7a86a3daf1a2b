//! `marionette bench --edit`: the editor's per-edit path, timed as the editor's worker runs it —
//! [`Engine::run`] with the scene (crop, source features) cached, the target skeleton moved a
//! little each time, the result and its explanation maps read back to the CPU. The final line
//! is `edit_ms <median>`.

use super::args::BenchArgs;
use super::timing::median;
use crate::app::engine::{Engine, ModelChoice, ModelSpec, Photo, RenderRequest};
use crate::pose::{self, Joint};
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// The photo and its source skeleton: `--image` with its pose file beside it (as the editor
/// finds it), or the bundled astronaut sample.
fn photo_and_pose(args: &BenchArgs) -> Result<(PathBuf, PathBuf)> {
    let image = match &args.image {
        Some(p) => p.clone(),
        None => crate::model::shipped::asset_dirs("samples")
            .iter()
            .map(|d| d.join("astronaut.png"))
            .find(|p| p.is_file())
            .context("the astronaut sample was not found; pass --image")?,
    };
    // Found the way the editor finds it (`<stem>_source.json`, `_pose.json` or `.json`).
    let pose = crate::app::editor::sidecar_pose(&image)
        .with_context(|| format!("{}: no source skeleton beside the photo", image.display()))?;
    Ok((image, pose))
}

pub fn run(args: &BenchArgs) -> Result<()> {
    let (image_path, pose_path) = photo_and_pose(args)?;
    let image = crate::imaging::open_photo(&image_path)?;
    let source = pose::read_openpose(&pose_path, 0)
        .with_context(|| format!("reading {}", pose_path.display()))?;
    let photo = Arc::new(Photo {
        id: 1,
        path: Some(image_path.clone()),
        image,
    });
    let choice = match &args.weights {
        Some(p) => ModelChoice::File(p.clone()),
        None => ModelChoice::Bundled,
    };
    let model = ModelSpec {
        choice,
        device: args.device.clone(),
    };
    // The right wrist (or any present joint) swings a few pixels per edit, as under a drag.
    let joint = (0..pose::NUM_JOINTS)
        .find(|&j| j == pose::skeleton::R_WRIST && source.get(j).is_some())
        .or_else(|| (0..pose::NUM_JOINTS).find(|&j| source.get(j).is_some()))
        .context("the source skeleton has no joints")?;
    let start = source.get(joint).context("joint")?;
    let request = |i: usize| {
        let mut target = source.clone();
        let t = i as f32 * 0.7;
        let moved = Joint::new(start.x + 6.0 * t.sin(), start.y - 6.0 * t.cos(), 1.0);
        target.set(joint, Some(moved));
        RenderRequest {
            id: i as u64,
            model: model.clone(),
            photo: Arc::clone(&photo),
            source: source.clone(),
            target,
        }
    };
    let mut engine = Engine::new();
    let t0 = Instant::now();
    let first = engine
        .run(&request(0))
        .map_err(|f| anyhow::anyhow!("{}", f.message))?;
    println!(
        "{} on {}: first edit (model load + scene) {:.1} ms, photo {}",
        first.model.name,
        first.model.device,
        t0.elapsed().as_secs_f64() * 1e3,
        image_path.display()
    );
    if let Some(why) = &first.model.fallback {
        println!("GPU unavailable: {why}");
    }
    if first.model.device == "CPU" {
        println!("{}", super::timing::cpu_path());
    }
    let (mut wall, mut reused) = (Vec::new(), 0);
    for i in 1..=args.warmup + args.runs.max(1) {
        let t = Instant::now();
        let r = engine
            .run(&request(i))
            .map_err(|f| anyhow::anyhow!("{}", f.message))?;
        if i > args.warmup {
            wall.push(t.elapsed().as_secs_f64() * 1e3);
            reused += usize::from(r.source_reused);
        }
    }
    println!(
        "{} edits, {reused} with cached source features; runs (ms): {}",
        wall.len(),
        wall.iter()
            .map(|v| format!("{v:.1}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!("edit_ms {:.2}", median(&mut wall));
    Ok(())
}
