//! `marionette eval`: copy-source, the puppet warp and a trained GFLA on the same held-out
//! synthetic pairs, scored against the renderer's exact ground truth.

use super::metrics;
use crate::imaging::flow_field::downsample_map;
use crate::imaging::FlowField;
use crate::model::gfla::Gfla;
use crate::puppet::{puppet_render, puppet_warp, PuppetConfig};
use crate::synth::SynthPair;
use crate::train::data::{render_pairs, Batch};
use anyhow::Result;
use candle_core::{Device, Tensor};
use image::RgbImage;
use serde::Serialize;

/// Methods in table order.
pub const METHODS: [&str; 3] = ["copy-source", "puppet", "model"];

/// End-point error at one attention level, in that level's pixels.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LevelScores {
    pub level: usize,
    /// Mean over every pixel of the level.
    pub epe_all: f64,
    /// Mean weighted by the target person's coverage (the figure only).
    pub epe_person: f64,
    /// IoU of the predicted and true *occluded* regions (mask < 0.5 vs visibility < 0.5).
    pub occlusion_iou: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct MethodScores {
    pub method: String,
    /// Mean over pairs of the per-pair PSNR (dB; capped at 100 for identical images).
    pub psnr: f64,
    pub ssim: f64,
    /// Mean absolute error in [0, 1] units.
    pub l1: f64,
    pub levels: Vec<LevelScores>,
}

#[derive(Clone, Debug, Serialize)]
pub struct EvalReport {
    pub pairs: usize,
    pub first_seed: u64,
    pub size_hw: (usize, usize),
    pub methods: Vec<MethodScores>,
}

/// Running sums for one method.
#[derive(Clone, Default)]
struct Acc {
    psnr: f64,
    ssim: f64,
    l1: f64,
    levels: Vec<LevelScores>,
    n: usize,
}

impl Acc {
    fn add_image(&mut self, out: &RgbImage, gt: &RgbImage) -> Result<()> {
        self.psnr += metrics::psnr(out, gt)?.min(100.0);
        self.ssim += metrics::ssim(out, gt)?;
        self.l1 += metrics::l1(out, gt)?;
        self.n += 1;
        Ok(())
    }

    fn add_level(
        &mut self,
        i: usize,
        level: usize,
        flow: &FlowField,
        mask: &[f32],
        gt: &GtLevel,
    ) -> Result<()> {
        if self.levels.len() <= i {
            self.levels.resize(i + 1, LevelScores::default());
        }
        let s = &mut self.levels[i];
        s.level = level;
        s.epe_all += metrics::epe(flow, &gt.flow, None)?;
        s.epe_person += metrics::epe(flow, &gt.flow, Some(&gt.person))?;
        let inv = |m: &[f32]| m.iter().map(|v| 1.0 - v).collect::<Vec<_>>();
        s.occlusion_iou += metrics::mask_iou(&inv(mask), &inv(&gt.visibility), 0.5)?;
        Ok(())
    }

    fn finish(&self, method: &str) -> MethodScores {
        let n = self.n.max(1) as f64;
        MethodScores {
            method: method.into(),
            psnr: self.psnr / n,
            ssim: self.ssim / n,
            l1: self.l1 / n,
            levels: self
                .levels
                .iter()
                .map(|l| LevelScores {
                    level: l.level,
                    epe_all: l.epe_all / n,
                    epe_person: l.epe_person / n,
                    occlusion_iou: l.occlusion_iou / n,
                })
                .collect(),
        }
    }
}

/// Ground truth of one pair at one level.
struct GtLevel {
    flow: FlowField,
    visibility: Vec<f32>,
    person: Vec<f32>,
}

fn gt_level(p: &SynthPair, factor: usize) -> GtLevel {
    let (h, w) = (p.flow.height, p.flow.width);
    GtLevel {
        flow: p.flow.downsample(factor),
        visibility: downsample_map(&p.visibility, h, w, factor),
        person: downsample_map(&p.person, h, w, factor),
    }
}

fn flow_from_tensor(t: &Tensor) -> Result<FlowField> {
    let (_, h, w) = t.dims3()?;
    Ok(FlowField {
        height: h,
        width: w,
        data: t.flatten_all()?.to_vec1::<f32>()?,
    })
}

/// Evaluates `count` held-out pairs from `first_seed` in batches; `tick` is called with the
/// number of pairs done. Returns the report and an example sheet of the first `sheet_rows`
/// pairs: source | target skeleton | puppet | model | ground truth.
pub fn evaluate(
    model: &Gfla,
    count: usize,
    first_seed: u64,
    batch: usize,
    sheet_rows: usize,
    dev: &Device,
    mut tick: impl FnMut(usize),
) -> Result<(EvalReport, RgbImage)> {
    let cfg = model.config().clone();
    let (h, w) = cfg.input_hw;
    let levels = cfg.levels_deepest_first();
    let mut acc = vec![Acc::default(); METHODS.len()];
    let mut rows = Vec::new();
    let mut done = 0;
    while done < count {
        let n = batch.max(1).min(count - done);
        let seeds: Vec<u64> = (0..n as u64)
            .map(|i| first_seed + (done as u64) + i)
            .collect();
        let pairs = render_pairs(&seeds, &cfg);
        let b = Batch::from_pairs(&pairs, &cfg, dev)?;
        let out = model.forward(&b.source, &b.source_pose, &b.target_pose)?;
        for (i, p) in pairs.iter().enumerate() {
            let puppet = puppet_warp(
                &p.source_pose,
                &p.target_pose,
                h,
                w,
                &PuppetConfig::default(),
            );
            let puppet_img = puppet_render(&p.source, &puppet);
            let model_img = crate::imaging::tensor_to_image(&out.image.get(i)?)?;
            acc[0].add_image(&p.source, &p.target)?;
            acc[1].add_image(&puppet_img, &p.target)?;
            acc[2].add_image(&model_img, &p.target)?;
            for (li, &level) in levels.iter().enumerate() {
                let f = 1usize << level;
                let gt = gt_level(p, f);
                let (lh, lw) = (h / f, w / f);
                acc[0].add_level(
                    li,
                    level,
                    &FlowField::zeros(lh, lw),
                    &vec![1.0; lh * lw],
                    &gt,
                )?;
                let pm = downsample_map(&puppet.mask, h, w, f);
                acc[1].add_level(li, level, &puppet.flow.downsample(f), &pm, &gt)?;
                let mf = flow_from_tensor(&out.flows[li].get(i)?)?;
                let mm = out.masks[li].get(i)?.flatten_all()?.to_vec1::<f32>()?;
                acc[2].add_level(li, level, &mf, &mm, &gt)?;
            }
            if rows.len() < sheet_rows {
                let mut skel =
                    RgbImage::from_pixel(w as u32, h as u32, image::Rgb([255, 255, 255]));
                crate::imaging::draw::draw_skeleton(&mut skel, &p.target_pose, 2.0);
                rows.push(vec![
                    p.source.clone(),
                    skel,
                    puppet_img,
                    model_img,
                    p.target.clone(),
                ]);
            }
        }
        done += n;
        tick(done);
    }
    let report = EvalReport {
        pairs: count,
        first_seed,
        size_hw: (h, w),
        methods: METHODS.iter().zip(&acc).map(|(m, a)| a.finish(m)).collect(),
    };
    Ok((report, crate::train::grid(&rows, w as u32, h as u32)))
}

/// The report as a plain-text table.
pub fn table(report: &EvalReport) -> String {
    let mut s = format!(
        "{} held-out pairs from seed {}, {}×{}\n",
        report.pairs, report.first_seed, report.size_hw.0, report.size_hw.1
    );
    s += &format!("{:<12} {:>8} {:>7} {:>7}", "method", "PSNR", "SSIM", "L1");
    if let Some(m) = report.methods.first() {
        for l in &m.levels {
            let f = 1 << l.level;
            s += &format!(
                " {:>11} {:>11} {:>9}",
                format!("EPE 1/{f}"),
                format!("EPEpers 1/{f}"),
                format!("occIoU 1/{f}")
            );
        }
    }
    s.push('\n');
    for m in &report.methods {
        s += &format!(
            "{:<12} {:>8.2} {:>7.4} {:>7.4}",
            m.method, m.psnr, m.ssim, m.l1
        );
        for l in &m.levels {
            s += &format!(
                " {:>11.3} {:>11.3} {:>9.3}",
                l.epe_all, l.epe_person, l.occlusion_iou
            );
        }
        s.push('\n');
    }
    s
}
