//! `marionette eval`: the comparison's numbers equal the metrics computed by hand on the same
//! pairs, and the CLI writes its report and refuses training seeds.

use candle_core::Device;
use marionette::eval::compare::{evaluate, table, EvalPlan};
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
    let plan = EvalPlan {
        count: n,
        first_seed: HELD_OUT_SEEDS,
        batch: 2,
        sheet_rows: 3,
        size_hw: None,
        look: Default::default(),
    };
    let (report, sheet) = evaluate(&model, &plan, None, &dev, |_| {})?;
    assert_eq!(report.pairs, n);
    assert_eq!(report.methods.len(), 6);
    // 3 rows of 7 tiles with 2-px gutters.
    let (h, w) = cfg.model.input_hw;
    assert_eq!(
        sheet.dimensions(),
        (7 * (w as u32 + 2) + 2, 3 * (h as u32 + 2) + 2)
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
    for m in [
        "copy-source",
        "puppet",
        "model",
        "puppet+composite",
        "model+composite",
        "default",
        "PSNR",
        "EPE 1/4",
    ] {
        assert!(text.contains(m), "table lacks {m}:\n{text}");
    }
    Ok(())
}

/// At twice the model's size: the scenes are drawn at that size (copy-source's PSNR is the hand
/// computed one on those scenes), the `default` row is a copy of the method `render` uses, and
/// a size that is not a whole multiple of the input is refused.
#[test]
fn larger_frames_score_the_scenes_at_their_size() -> anyhow::Result<()> {
    let dev = Device::Cpu;
    let cfg = TrainConfig::tiny();
    let model = Trainer::new(cfg.clone(), &dev)?.gen.model(&cfg.model)?;
    let (h, w) = cfg.model.input_hw;
    let plan = EvalPlan {
        count: 2,
        first_seed: HELD_OUT_SEEDS + 7,
        batch: 2,
        sheet_rows: 1,
        size_hw: Some((2 * h, 2 * w)),
        look: Default::default(),
    };
    let (report, sheet) = evaluate(&model, &plan, None, &dev, |_| {})?;
    assert_eq!(report.size_hw, (2 * h, 2 * w));
    assert_eq!(sheet.height(), 2 * h as u32 + 4);
    let sc = marionette::synth::SynthConfig {
        height: 2 * h,
        width: 2 * w,
    };
    let mut psnr = 0.0;
    for seed in [HELD_OUT_SEEDS + 7, HELD_OUT_SEEDS + 8] {
        let scene = marionette::synth::render_scene(seed, &sc);
        psnr += metrics::psnr(&scene.pair.source, &scene.pair.target)?.min(100.0) / 2.0;
    }
    assert!((report.methods[0].psnr - psnr).abs() < 1e-9);
    let default = report
        .methods
        .iter()
        .find(|m| m.method == "default")
        .unwrap();
    let copied = report
        .methods
        .iter()
        .find(|m| m.method == report.default_is)
        .unwrap();
    assert_eq!(default.psnr, copied.psnr);
    assert_eq!(default.ssim_person, copied.ssim_person);
    // The composites' error split by what they show: every person-region pixel in one cell,
    // so the cells' error shares add up to 1 and each part's pixel shares too; the other
    // methods have no such split (nor a garment texture figure).
    for m in &report.methods {
        let composite = m.method.contains("composite") || m.method == "default";
        assert_eq!(!m.shows.is_empty(), composite, "{}", m.method);
        assert!(composite || m.texture_garment.is_none(), "{}", m.method);
        if composite {
            let error: f64 = m.shows.iter().map(|c| c.error_share).sum();
            assert!((error - 1.0).abs() < 1e-9, "{}: {error}", m.method);
            for part in ["shown", "hidden", "vacated"] {
                let cells = m.shows.iter().filter(|c| c.part == part);
                let pixels: f64 = cells.map(|c| c.pixel_share).sum();
                assert!(
                    pixels == 0.0 || (pixels - 1.0).abs() < 1e-9,
                    "{part}: {pixels}"
                );
            }
        }
    }
    let printed = table(&report);
    assert!(
        printed.contains("person region by what it shows"),
        "{printed}"
    );
    let bad = EvalPlan {
        size_hw: Some((2 * h + 1, 2 * w)),
        ..plan
    };
    let err = evaluate(&model, &bad, None, &dev, |_| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("whole number"), "{err}");
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

/// The person-region metrics: PSNR over exactly the selected pixels, SSIM 1 where identical,
/// nothing selected → None, a region of the wrong size → an error.
#[test]
fn region_metrics_follow_their_definition() -> anyhow::Result<()> {
    let a = image::RgbImage::from_fn(24, 20, |x, y| {
        image::Rgb([(x * 9) as u8, (y * 11) as u8, 50])
    });
    let mut b = a.clone();
    // Change one pixel by 10 in one channel, inside the left half only.
    b.get_pixel_mut(3, 4)[0] += 10;
    let left: Vec<f32> = (0..20 * 24)
        .map(|i| if i % 24 < 12 { 1.0 } else { 0.0 })
        .collect();
    let right: Vec<f32> = left.iter().map(|v| 1.0 - v).collect();
    let want = 10.0 * (255.0f64.powi(2) / (100.0 / (12.0 * 20.0 * 3.0))).log10();
    let got = metrics::psnr_region(&b, &a, &left)?.unwrap();
    assert!((got - want).abs() < 1e-9, "{got} vs {want}");
    assert_eq!(metrics::psnr_region(&b, &a, &right)?, Some(f64::INFINITY));
    assert_eq!(metrics::psnr_region(&b, &a, &vec![0.0; 480])?, None);
    assert!(metrics::psnr_region(&b, &a, &[1.0; 10]).is_err());
    assert_eq!(metrics::ssim_region(&a, &a, &left)?, Some(1.0));
    assert!(metrics::ssim_region(&b, &a, &left)?.unwrap() < 1.0);
    // The mean over every window is the plain SSIM.
    let all = metrics::ssim_region(&b, &a, &[1.0; 480])?.unwrap();
    assert!((all - metrics::ssim(&b, &a)?).abs() < 1e-12);
    Ok(())
}
