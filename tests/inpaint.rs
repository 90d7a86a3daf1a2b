//! Background plates on synthetic scenes, against the background drawn alone: the exemplar
//! (PatchMatch) fill must beat the membrane (diffusion) fill where there is texture to continue.

use marionette::eval::plate::{plate_scene, score_fill, FillScore, PlateScene};
use marionette::imaging::inpaint::{fill_diffusion, fill_patchmatch, PatchMatchParams};

const W: usize = 192;
const H: usize = 256;
/// Matte dilation, px.
const DILATE: u32 = 3;

fn scores(scene: &PlateScene) -> (FillScore, FillScore) {
    let pm = fill_patchmatch(
        &scene.image,
        &scene.hole,
        &PatchMatchParams::default(),
        &|| false,
    )
    .expect("patchmatch fill");
    let diff = fill_diffusion(&scene.image, &scene.hole).expect("diffusion fill");
    // INPAINT_DUMP=DIR writes photo / truth / PatchMatch / diffusion sheets there to look at.
    if let Ok(dir) = std::env::var("INPAINT_DUMP") {
        let n = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
        let mut sheet = image::RgbImage::new(4 * W as u32, H as u32);
        for (i, im) in [&scene.image, &scene.truth, &pm, &diff]
            .into_iter()
            .enumerate()
        {
            image::imageops::replace(&mut sheet, im, (i * W) as i64, 0);
        }
        sheet.save(format!("{dir}/{n:03}.png")).unwrap();
    }
    (
        score_fill(&pm, &scene.truth, &scene.hole).unwrap(),
        score_fill(&diff, &scene.truth, &scene.hole).unwrap(),
    )
}

/// Measured (2026-11-30, seeds 0..40 at 192×256, matte dilated 3 px; 15 textured, 25 plain):
/// on textured backgrounds PatchMatch keeps the detail (gradient energy 0.86 of the truth's on
/// average, |1 − ratio| 0.18) where diffusion smears it (0.70, |1 − ratio| 0.31), while its PSNR
/// is 1.4 dB *lower* on average (26.7 vs 28.1 dB): an edge or noise grain continued a few
/// pixels off costs more squared error than the blur. On plain gradients PatchMatch is exact or
/// near it (≥ 72 dB), diffusion 60–72 dB.
#[test]
fn patchmatch_keeps_texture_that_diffusion_smears() {
    let (mut textured, mut plain) = (Vec::new(), Vec::new());
    for seed in 0..40u64 {
        let scene = plate_scene(seed, W, H, DILATE);
        let (pm, diff) = scores(&scene);
        println!(
            "seed {seed:2} {} hole {:4.1}%  PSNR pm {:5.2} diff {:5.2}  SSIM pm {:.4} diff {:.4}  detail pm {:.2} diff {:.2}",
            if scene.textured { "textured" } else { "plain   " },
            100.0 * scene.hole_fraction(),
            pm.psnr,
            diff.psnr,
            pm.ssim,
            diff.ssim,
            pm.detail,
            diff.detail
        );
        if scene.textured {
            textured.push((pm, diff));
        } else {
            plain.push((seed, pm, diff));
        }
    }
    assert!(textured.len() >= 10 && plain.len() >= 10);
    let n = textured.len() as f64;
    let mean = |f: &dyn Fn(&(FillScore, FillScore)) -> f64| textured.iter().map(f).sum::<f64>() / n;
    let pm_off = mean(&|(p, _)| (1.0 - p.detail).abs());
    let diff_off = mean(&|(_, d)| (1.0 - d.detail).abs());
    let (pm_db, diff_db) = (mean(&|(p, _)| p.psnr), mean(&|(_, d)| d.psnr));
    println!("textured: detail off by {pm_off:.3} (pm) vs {diff_off:.3} (diffusion); PSNR {pm_db:.2} vs {diff_db:.2} dB");
    assert!(
        pm_off < 0.75 * diff_off,
        "PatchMatch should keep the background's detail: off by {pm_off:.3} vs diffusion {diff_off:.3}"
    );
    assert!(
        pm_db > diff_db - 3.0,
        "PatchMatch PSNR {pm_db:.2} dB fell more than 3 dB below diffusion's {diff_db:.2}"
    );
    for (seed, pm, diff) in plain {
        assert!(
            pm.psnr >= diff.psnr && pm.psnr >= 60.0,
            "plain scene {seed}: PatchMatch {:.2} dB vs diffusion {:.2} dB",
            pm.psnr,
            diff.psnr
        );
    }
}
