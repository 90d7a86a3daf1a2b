//! `marionette eval`: the comparison's numbers equal the metrics computed by hand on the same
//! pairs, and the CLI writes its report and refuses training seeds.

use candle_core::Device;
use marionette::eval::compare::{evaluate, table};
use marionette::eval::metrics;
use marionette::imaging::flow_field::downsample_map;
use marionette::train::data::{render_pairs, HELD_OUT_SEEDS};
use marionette::train::{TrainConfig, Trainer};
use std::process::Command;

#[test]
fn copy_source_scores_equal_hand_computed_metrics() -> anyhow::Result<()> {
    let dev = Device::Cpu;
    let cfg = TrainConfig::tiny();
    let model = Trainer::new(cfg.clone(), &dev)?.gen.model(&cfg.model)?;
    let n = 5;
    let (report, sheet) = evaluate(&model, n, HELD_OUT_SEEDS, 2, 3, &dev, |_| {})?;
    assert_eq!(report.pairs, n);
    assert_eq!(report.methods.len(), 3);
    // 3 rows of 5 tiles with 2-px gutters.
    let (h, w) = cfg.model.input_hw;
    assert_eq!(
        sheet.dimensions(),
        (5 * (w as u32 + 2) + 2, 3 * (h as u32 + 2) + 2)
    );

    let seeds: Vec<u64> = (0..n as u64).map(|i| HELD_OUT_SEEDS + i).collect();
    let pairs = render_pairs(&seeds, &cfg.model);
    let (mut psnr, mut ssim, mut epe, mut iou) = (0.0, 0.0, 0.0, 0.0);
    let level = cfg.model.levels_deepest_first()[0];
    let f = 1 << level;
    for p in &pairs {
        psnr += metrics::psnr(&p.source, &p.target)?.min(100.0);
        ssim += metrics::ssim(&p.source, &p.target)?;
        // Copying the source is the zero flow: EPE = mean magnitude of the true flow.
        let gt = p.flow.downsample(f);
        let plane = gt.height * gt.width;
        epe += (0..plane)
            .map(|i| (gt.data[i].powi(2) + gt.data[plane + i].powi(2)).sqrt() as f64)
            .sum::<f64>()
            / plane as f64;
        // …and predicts nothing occluded: IoU 0 unless nothing is occluded either.
        let vis = downsample_map(&p.visibility, h, w, f);
        iou += if vis.iter().all(|&v| v >= 0.5) {
            1.0
        } else {
            0.0
        };
    }
    let copy = &report.methods[0];
    assert_eq!(copy.method, "copy-source");
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * b.abs().max(1.0);
    assert!(
        close(copy.psnr, psnr / n as f64),
        "{} vs {}",
        copy.psnr,
        psnr / n as f64
    );
    assert!(close(copy.ssim, ssim / n as f64));
    assert!(
        close(copy.levels[0].epe_all, epe / n as f64),
        "{} vs {}",
        copy.levels[0].epe_all,
        epe / n as f64
    );
    assert!(close(copy.levels[0].occlusion_iou, iou / n as f64));
    assert!(epe > 0.0, "held-out pairs move");
    let text = table(&report);
    for m in ["copy-source", "puppet", "model", "PSNR", "EPE 1/4"] {
        assert!(text.contains(m), "table lacks {m}:\n{text}");
    }
    Ok(())
}

#[test]
fn eval_cli_refuses_training_seeds() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_marionette"))
        .args(["eval", "--first-seed", "12", "--count", "2", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("training range"), "{err}");
}

#[test]
fn synth_cli_writes_pairs_ground_truth_and_sheet() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_marionette"))
        .args(["synth", "--count", "2", "--size", "64x48", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in [
        "000001_source.png",
        "000001_target.json",
        "000000_flow.png",
        "sheet.png",
    ] {
        assert!(dir.path().join(f).is_file(), "missing {f}");
    }
    let flow = std::fs::read(dir.path().join("000000_flow.bin")).unwrap();
    assert_eq!(flow.len(), 2 * 64 * 48 * 4);
    let img = image::open(dir.path().join("000000_source.png")).unwrap();
    assert_eq!((img.width(), img.height()), (48, 64));
    let pose = marionette::pose::read_openpose(dir.path().join("000000_source.json"), 0).unwrap();
    assert!(pose.num_present() > 0);
}
