//! `marionette eval`: copy-source, the puppet warp, a trained GFLA, and both composited into
//! the photo on the same held-out synthetic scenes (person on background), scored against
//! the renderer's exact ground truth, over the frame and over the person region (the target
//! person ∪ where the source person was: what a re-posing changes).

use super::garment::GarmentTexture;
use super::metrics::{self, local_std, pooled_psnr};
pub use super::part::Part;
use super::shows::{ShowsAcc, ShowsScores};
use crate::composite::pipeline::{composite_edit, default_method, Edit, Method};
use crate::composite::refine::refine;
use crate::composite::upsample::upsample_image;
use crate::composite::{plate_layers, Composited, NetworkOutputs, Placement};
use crate::imaging::flow_field::downsample_map;
use crate::imaging::FlowField;
use crate::model::gfla::Gfla;
use crate::model::refiner::{Refiner, RefinerConfig};
use crate::puppet::{puppet_render, puppet_warp, PuppetConfig};
use crate::synth::{render_scene_look, Look, SynthConfig, SynthPair, SynthScene};
use crate::train::data::Batch;
use anyhow::Result;
use candle_core::Device;
use image::RgbImage;
use rayon::prelude::*;
use serde::Serialize;

/// Methods in table order. `model` is the raw network output, upscaled to the frame. The
/// composites put the edit into the source photo ([`crate::composite`]): the scene's true matte,
/// and the plate PatchMatch fills in that matte's grown region ([`plate_layers`], what `render`
/// does, but for the matte, which `render` takes from the pose detector); `puppet+composite`
/// moves the person by the puppet, `model+composite` by the network's finest flow, with its
/// invented pixels where its mask says the source does not show them. The report adds a
/// `default` row: a copy of the method `render` uses without options
/// ([`crate::composite::DEFAULT_METHOD`]).
pub const METHODS: [&str; 5] = [
    "copy-source",
    "puppet",
    "model",
    "puppet+composite",
    "model+composite",
];

/// The extra method evaluated when a refiner is given: `puppet+composite` corrected by the
/// refiner ([`crate::composite::refine`]).
pub const REFINED: &str = "refined";

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
    /// PSNR and SSIM over the person region: target person ∪ source person (coverage > 0.5).
    pub psnr_person: f64,
    pub ssim_person: f64,
    /// Where in the person region the error is ([`Part`]), pooled over all pairs.
    pub parts: Vec<PartScores>,
    /// The composites' person-region error by what they show there (empty for the other
    /// methods; [`super::shows`]).
    pub shows: Vec<ShowsScores>,
    /// PSNR over the soft edge of the true target person (coverage strictly between 0.02 and
    /// 0.98), pooled over all pairs: where a moved limb's outline shows what it was cut from.
    pub psnr_rim: f64,
    /// Texture of what was invented: the mean local standard deviation (3×3, luma) of the
    /// output over the hidden person's pixels, divided by the ground truth's over the same
    /// pixels (1 = as textured as the true cloth; a smooth fill is well below 1).
    pub texture_hidden: f64,
    /// The composites' invented pixels' local contrast over their garment's where shown
    /// ([`super::garment`]; `None` for the other methods or when nothing was invented).
    pub texture_garment: Option<f64>,
    pub levels: Vec<LevelScores>,
}

/// One [`Part`]'s error over every pair (squared errors summed before the logarithm, so small
/// parts of single pairs weigh by their pixels).
#[derive(Clone, Debug, Serialize)]
pub struct PartScores {
    pub part: String,
    pub psnr: f64,
    /// The part's share of the person region's summed squared error (the three add up to 1).
    pub error_share: f64,
    /// The part's share of the person region's pixels.
    pub pixel_share: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct EvalReport {
    pub pairs: usize,
    pub first_seed: u64,
    pub size_hw: (usize, usize),
    /// Which method the `default` row copies.
    pub default_is: String,
    pub methods: Vec<MethodScores>,
}

/// Running sums for one method.
#[derive(Clone, Default)]
struct Acc {
    psnr: f64,
    ssim: f64,
    l1: f64,
    psnr_person: f64,
    ssim_person: f64,
    /// Pairs whose person region was not empty.
    n_person: usize,
    /// Per [`Part`]: summed squared error (0–255 units) and channel values.
    part_sse: [f64; 3],
    part_n: [usize; 3],
    /// The same over the target person's soft edge.
    rim_sse: f64,
    rim_n: usize,
    /// Summed local standard deviations over hidden person pixels: the output's, the truth's.
    tex_out: f64,
    tex_gt: f64,
    shows: ShowsAcc,
    garment: GarmentTexture,
    levels: Vec<LevelScores>,
    n: usize,
}

impl Acc {
    fn add_parts(&mut self, out: &RgbImage, gt: &RgbImage, scene: &SynthScene) {
        let w = out.width() as usize;
        for (i, (p, q)) in out.pixels().zip(gt.pixels()).enumerate() {
            let part = Part::of(scene, i);
            if part == Some(Part::Hidden) {
                let (x, y) = ((i % w) as u32, (i / w) as u32);
                self.tex_out += local_std(out, x, y);
                self.tex_gt += local_std(gt, x, y);
            }
            if let Some(part) = part {
                let k = part as usize;
                self.part_sse[k] += (0..3)
                    .map(|c| (p[c] as f64 - q[c] as f64).powi(2))
                    .sum::<f64>();
                self.part_n[k] += 3;
            }
            if is_rim(scene.pair.person[i]) {
                self.rim_sse += (0..3)
                    .map(|c| (p[c] as f64 - q[c] as f64).powi(2))
                    .sum::<f64>();
                self.rim_n += 3;
            }
        }
    }

    /// What only a composite has: its error by what it shows, its invented cloth's texture.
    fn add_composite(&mut self, c: &Composited, gt: &RgbImage, scene: &SynthScene) {
        self.shows.add(c, gt, |j| Part::of(scene, j));
        self.garment.add(c, gt, scene);
    }

    fn add_image(&mut self, out: &RgbImage, gt: &RgbImage, region: &[f32]) -> Result<()> {
        self.psnr += metrics::psnr(out, gt)?.min(100.0);
        self.ssim += metrics::ssim(out, gt)?;
        self.l1 += metrics::l1(out, gt)?;
        self.n += 1;
        let psnr = metrics::psnr_region(out, gt, region)?;
        let ssim = metrics::ssim_region(out, gt, region)?;
        if let (Some(p), Some(s)) = (psnr, ssim) {
            self.psnr_person += p.min(100.0);
            self.ssim_person += s;
            self.n_person += 1;
        }
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
        let np = self.n_person.max(1) as f64;
        MethodScores {
            method: method.into(),
            psnr: self.psnr / n,
            ssim: self.ssim / n,
            l1: self.l1 / n,
            psnr_person: self.psnr_person / np,
            ssim_person: self.ssim_person / np,
            psnr_rim: pooled_psnr(self.rim_sse, self.rim_n),
            texture_hidden: self.tex_out / self.tex_gt.max(1e-9),
            texture_garment: self.garment.ratio(),
            parts: {
                let sse: f64 = self.part_sse.iter().sum();
                let n: usize = self.part_n.iter().sum();
                Part::ALL
                    .iter()
                    .map(|&p| {
                        let k = p as usize;
                        PartScores {
                            part: p.name().into(),
                            psnr: pooled_psnr(self.part_sse[k], self.part_n[k]),
                            error_share: self.part_sse[k] / sse.max(1e-12),
                            pixel_share: self.part_n[k] as f64 / n.max(1) as f64,
                        }
                    })
                    .collect()
            },
            shows: self.shows.finish(),
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

/// Whether a target coverage value is on the person's soft edge.
fn is_rim(coverage: f32) -> bool {
    coverage > 0.02 && coverage < 0.98
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

/// The region a re-posing changes: target person ∪ source person (coverage > 0.5).
fn person_region(scene: &SynthScene) -> Vec<f32> {
    scene
        .source_person
        .iter()
        .zip(&scene.pair.person)
        .map(|(s, t)| if s.max(*t) > 0.5 { 1.0 } else { 0.0 })
        .collect()
}

/// What to evaluate: `count` held-out scenes from `first_seed`, `batch` per forward pass, at
/// `size_hw` (an integer multiple of the model's input size, same aspect; `None`: the model's
/// input size), with an example sheet of the first `sheet_rows` scenes.
#[derive(Clone, Debug)]
pub struct EvalPlan {
    pub count: usize,
    pub first_seed: u64,
    pub batch: usize,
    pub sheet_rows: usize,
    pub size_hw: Option<(usize, usize)>,
    /// How the scenes are dressed: drawn (the reported tables) or photo-textured.
    pub look: Look,
}

/// The model's view of a scene `r`× larger than its input: the pictures box-filtered down, the
/// poses moved to the small frame's pixel centres, the ground truth downsampled (only the
/// pictures and poses are read by the forward pass).
fn shrink_pair(p: &SynthPair, r: usize) -> SynthPair {
    if r == 1 {
        return p.clone();
    }
    let (h, w) = (p.flow.height, p.flow.width);
    let shrink = |img: &RgbImage| {
        image::imageops::resize(
            img,
            (w / r) as u32,
            (h / r) as u32,
            image::imageops::FilterType::Triangle,
        )
    };
    let rf = r as f32;
    let pose =
        |q: &crate::pose::Pose| q.map_points(|x, y| ((x + 0.5) / rf - 0.5, (y + 0.5) / rf - 0.5));
    SynthPair {
        source: shrink(&p.source),
        target: shrink(&p.target),
        source_pose: pose(&p.source_pose),
        target_pose: pose(&p.target_pose),
        flow: p.flow.downsample(r),
        visibility: downsample_map(&p.visibility, h, w, r),
        person: downsample_map(&p.person, h, w, r),
    }
}

/// The scale from the model's input to the evaluation frame, checked.
fn frame_ratio(input_hw: (usize, usize), size_hw: (usize, usize)) -> Result<usize> {
    let (mh, mw) = input_hw;
    let (h, w) = size_hw;
    let r = h / mh.max(1);
    anyhow::ensure!(
        r >= 1 && h == r * mh && w == r * mw,
        "--size {h}x{w} must be the model's input {mh}x{mw} times a whole number (e.g. {}x{})",
        2 * mh,
        2 * mw
    );
    Ok(r)
}

/// Evaluates the plan's held-out scenes; `tick` is called with the number of scenes done.
/// Returns the report and an example sheet: source | target skeleton | puppet |
/// puppet+composite | model | model+composite | (refined, with a refiner) | ground truth.
pub fn evaluate(
    model: &Gfla,
    plan: &EvalPlan,
    refiner: Option<&(Refiner, RefinerConfig)>,
    dev: &Device,
    mut tick: impl FnMut(usize),
) -> Result<(EvalReport, RgbImage)> {
    let cfg = model.config().clone();
    let (mh, mw) = cfg.input_hw;
    let (h, w) = plan.size_hw.unwrap_or(cfg.input_hw);
    let r = frame_ratio(cfg.input_hw, (h, w))?;
    let levels = cfg.levels_deepest_first();
    let pcfg = PuppetConfig::default();
    let mut names: Vec<&str> = METHODS.to_vec();
    if refiner.is_some() {
        names.push(REFINED);
    }
    let mut acc = vec![Acc::default(); names.len()];
    let mut rows = Vec::new();
    let mut done = 0;
    while done < plan.count {
        let n = plan.batch.max(1).min(plan.count - done);
        let seeds: Vec<u64> = (0..n as u64)
            .map(|i| plan.first_seed + (done as u64) + i)
            .collect();
        let sc = SynthConfig {
            height: h,
            width: w,
        };
        // The same pictures as the training pairs of these seeds, with matte and background.
        let scenes: Vec<SynthScene> = seeds
            .par_iter()
            .map(|&s| render_scene_look(s, &sc, plan.look))
            .collect();
        let small: Vec<SynthPair> = scenes.iter().map(|s| shrink_pair(&s.pair, r)).collect();
        let b = Batch::from_pairs(&small, &cfg, dev)?;
        let out = b.generate(model)?;
        for (i, scene) in scenes.iter().enumerate() {
            let p = &scene.pair;
            let puppet = puppet_warp(&p.source_pose, &p.target_pose, h, w, &pcfg);
            let puppet_img = puppet_render(&p.source, &puppet);
            let net =
                NetworkOutputs::finest(&out.image, &out.flows, &out.masks, b.prior.as_deref(), i)?;
            let image_at = Placement::new(0.0, 0.0, w as f64, h as f64, mw, mh);
            let model_small = &net.image;
            let model_img = upsample_image(model_small, &image_at, h, w);
            let layers = plate_layers(&p.source, scene.source_person.clone(), &|| false)?;
            let edit = Edit {
                source: &p.source_pose,
                target: &p.target_pose,
                puppet: &pcfg,
            };
            let puppet_layered = composite_edit(&layers, Method::Puppet, &edit, None)?;
            let refined = match refiner {
                Some((r, rc)) => Some(refine(
                    r,
                    &p.source,
                    &puppet_layered,
                    &p.source_pose,
                    &p.target_pose,
                    rc.working_hw,
                    dev,
                )?),
                None => None,
            };
            acc[3].add_composite(&puppet_layered, &p.target, scene);
            let puppet_comp = puppet_layered.image;
            let placed = net.placed(0.0, 0.0, w as f64, h as f64);
            let model_layered = composite_edit(&layers, Method::Network, &edit, Some(&placed))?;
            acc[4].add_composite(&model_layered, &p.target, scene);
            let model_comp = model_layered.image;
            let region = person_region(scene);
            let mut images = vec![
                &p.source,
                &puppet_img,
                &model_img,
                &puppet_comp,
                &model_comp,
            ];
            images.extend(refined.as_ref());
            for (a, img) in acc.iter_mut().zip(images) {
                a.add_image(img, &p.target, &region)?;
                a.add_parts(img, &p.target, scene);
            }
            for (li, &level) in levels.iter().enumerate() {
                // Level grids of the model's input; the scene is r× finer.
                let f = 1usize << level;
                let gt = gt_level(p, f * r);
                let (lh, lw) = (h / (f * r), w / (f * r));
                let zero = FlowField::zeros(lh, lw);
                let pflow = puppet.flow.downsample(f * r);
                let pm = downsample_map(&puppet.mask, h, w, f * r);
                let mf = FlowField::from_tensor(&out.flows[li].get(i)?)?;
                let mm = out.masks[li].get(i)?.flatten_all()?.to_vec1::<f32>()?;
                acc[0].add_level(li, level, &zero, &vec![1.0; lh * lw], &gt)?;
                // The composites move pixels by their warp's flow.
                for k in [1, 3].into_iter().chain(refined.as_ref().map(|_| 5)) {
                    acc[k].add_level(li, level, &pflow, &pm, &gt)?;
                }
                for k in [2, 4] {
                    acc[k].add_level(li, level, &mf, &mm, &gt)?;
                }
            }
            if rows.len() < plan.sheet_rows {
                let mut skel =
                    RgbImage::from_pixel(w as u32, h as u32, image::Rgb([255, 255, 255]));
                crate::imaging::draw::draw_skeleton(&mut skel, &p.target_pose, 2.0);
                let mut row = vec![
                    p.source.clone(),
                    skel,
                    puppet_img,
                    puppet_comp,
                    model_img,
                    model_comp,
                ];
                row.extend(refined);
                row.push(p.target.clone());
                rows.push(row);
            }
        }
        done += n;
        tick(done);
    }
    let mut methods: Vec<MethodScores> = names.iter().zip(&acc).map(|(m, a)| a.finish(m)).collect();
    let default = default_method()?.name();
    if let Some(m) = methods.iter().find(|m| m.method == default) {
        let mut d = m.clone();
        d.method = "default".into();
        methods.push(d);
    }
    let report = EvalReport {
        pairs: plan.count,
        first_seed: plan.first_seed,
        size_hw: (h, w),
        default_is: default.into(),
        methods,
    };
    Ok((report, crate::train::grid(&rows, w as u32, h as u32)))
}

/// The report as a plain-text table.
pub fn table(report: &EvalReport) -> String {
    let mut s = format!(
        "{} held-out pairs from seed {}, {}×{}\n",
        report.pairs, report.first_seed, report.size_hw.0, report.size_hw.1
    );
    s += &format!(
        "{:<17} {:>8} {:>7} {:>7} {:>11} {:>11} {:>9} {:>8}",
        "method", "PSNR", "SSIM", "L1", "PSNR pers.", "SSIM pers.", "PSNR rim", "texture"
    );
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
            "{:<17} {:>8.2} {:>7.4} {:>7.4} {:>11.2} {:>11.4} {:>9.2} {:>8.2}",
            m.method,
            m.psnr,
            m.ssim,
            m.l1,
            m.psnr_person,
            m.ssim_person,
            m.psnr_rim,
            m.texture_hidden
        );
        for l in &m.levels {
            s += &format!(
                " {:>11.3} {:>11.3} {:>9.3}",
                l.epe_all, l.epe_person, l.occlusion_iou
            );
        }
        s.push('\n');
    }
    // Where each method's person-region error is: PSNR per part and the part's share of it.
    s += &format!("\n{:<17}", "person region");
    for p in Part::ALL {
        s += &format!(" {:>14} {:>7}", format!("PSNR {}", p.name()), "share");
    }
    s.push('\n');
    for m in &report.methods {
        s += &format!("{:<17}", m.method);
        for p in &m.parts {
            s += &format!(" {:>14.2} {:>6.0}%", p.psnr, 100.0 * p.error_share);
        }
        s.push('\n');
    }
    if let Some(m) = report.methods.first() {
        s += "pixels";
        for p in &m.parts {
            s += &format!("  {} {:.0}%", p.part, 100.0 * p.pixel_share);
        }
        s.push('\n');
    }
    for (m, t) in report
        .methods
        .iter()
        .filter_map(|m| Some((m, m.texture_garment?)))
    {
        s += &format!(
            "{}: invented pixels' local contrast over their garment's where shown {t:.2}\n",
            m.method
        );
    }
    if let Some(d) = report.methods.iter().find(|m| m.method == "default") {
        if !d.shows.is_empty() {
            s += &format!(
                "\n{}",
                super::shows::table(&format!("default ({})", report.default_is), &d.shows)
            );
        }
    }
    s
}
