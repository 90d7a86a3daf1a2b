//! Procedural synthetic people with exact ground-truth flow and visibility, for training and
//! evaluating pose transfer.
//!
//! A [`Person`] (body proportions, skin, hair, clothes, textures, background) is drawn in two
//! [`Articulation`]s. Every body part has a part-local surface frame and the colour of a pixel
//! is a function of (part, surface coordinates) only, so for each target pixel the renderer
//! knows exactly which source position shows the same surface point (the backward flow) and
//! whether it is seen there (the visibility).
//!
//! Layout: [`figure`] (identity and surface colours), [`pose_sampler`] (poses), [`texture`]
//! (patterns and backgrounds), `geometry` (parts in a pose, depth order, keypoints), `render`
//! (rasterising and the ground truth), `sheet` (contact sheets).

pub mod figure;
mod geometry;
pub mod motion;
pub mod photo;
pub mod pose_sampler;
mod render;
mod sheet;
pub mod texture;
mod util;

#[cfg(test)]
mod tests;

use image::RgbImage;

pub use figure::{Body, Person};
pub use photo::Look;
pub use pose_sampler::{Articulation, Limb, Orientation};
pub use sheet::contact_sheet;

use crate::imaging::FlowField;
use crate::pose::Pose;
use crate::util::rng::SplitMix64;

/// Image size of the synthetic pictures (any size ≥ 32×32).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SynthConfig {
    pub height: usize,
    pub width: usize,
}

/// One training / evaluation pair with its exact ground truth.
#[derive(Clone, Debug)]
pub struct SynthPair {
    pub source: RgbImage,
    pub target: RgbImage,
    /// COCO-18 joints in pixel coordinates; joints outside the image or hidden from a detector
    /// (face points of a back view, the far ear of a profile) are `None`.
    pub source_pose: Pose,
    pub target_pose: Pose,
    /// Backward flow: target pixel (x, y) shows the surface point at (x + dx, y + dy) of the
    /// source. Zero on the (static) background.
    pub flow: FlowField,
    /// H·W, row-major: 1 where the target pixel's point is visible in the source, 0 where it is
    /// hidden there (background: 0 only where the person covers it in the source).
    pub visibility: Vec<f32>,
    /// H·W coverage of the person in the target, 0..1.
    pub person: Vec<f32>,
}

impl SynthPair {
    /// For target pixel `i`: `Some(true)` on target person (coverage > 0.5) the source shows
    /// (visibility ≥ 0.5), `Some(false)` on target person it hides, `None` off the person.
    pub fn person_shown(&self, i: usize) -> Option<bool> {
        (self.person[i] > 0.5).then(|| self.visibility[i] >= 0.5)
    }
}

fn check(cfg: &SynthConfig) {
    assert!(
        cfg.height >= 32 && cfg.width >= 32,
        "synthetic images must be at least 32×32, got {}×{}",
        cfg.height,
        cfg.width
    );
}

/// A pair drawn from `seed`: identity, background and two poses. 30% of pairs are small pose
/// changes (a few joints perturbed), the rest independent poses at a similar scale and place.
pub fn render_pair(seed: u64, cfg: &SynthConfig) -> SynthPair {
    render_scene(seed, cfg).pair
}

/// A pair with what compositing onto the source photo needs to be judged exactly: the person's
/// coverage in the source (the true matte) and the background alone (the true plate).
#[derive(Clone, Debug)]
pub struct SynthScene {
    pub pair: SynthPair,
    /// H·W coverage of the person in the source, 0..1.
    pub source_person: Vec<f32>,
    /// H·W: the target figure's part at each pixel's centre ([`figure::part`] ids; `u8::MAX`
    /// on the background): which garment a pixel is, for the eval's texture figures.
    pub target_parts: Vec<u8>,
    pub background: RgbImage,
}

/// The scene of pair `seed` (the same pictures as [`render_pair`]).
pub fn render_scene(seed: u64, cfg: &SynthConfig) -> SynthScene {
    render_scene_look(seed, cfg, Look::Drawn)
}

/// The scene of pair `seed` dressed in `look`: the same person, poses and framing as
/// [`render_scene`], with [`Look::Photo`] re-dressing garments, backdrop and light from a
/// random stream of its own (so the drawn look of every seed stays as it was).
pub fn render_scene_look(seed: u64, cfg: &SynthConfig, look: Look) -> SynthScene {
    let mut rng = SplitMix64::new(seed ^ 0x005E_ED5A_170F_u64.rotate_left(17));
    let mut person = Person::sample(&mut rng, cfg);
    if look == Look::Photo {
        let mut photo_rng = SplitMix64::new(seed ^ 0x0F07_0A5E_u64.rotate_left(29));
        person.photo_look(&mut photo_rng, cfg.width as f32 / cfg.height as f32);
    }
    let source = Articulation::sample(&mut rng, cfg);
    let target = if util::coin(&mut rng, 0.3) {
        source.perturbed(&mut rng)
    } else {
        source.sample_related(&mut rng, cfg)
    };
    render_scene_with(&person, &source, &target, cfg)
}

/// The pair of `person` in poses `source` and `target`.
pub fn render_pair_with(
    person: &Person,
    source: &Articulation,
    target: &Articulation,
    cfg: &SynthConfig,
) -> SynthPair {
    render_scene_with(person, source, target, cfg).pair
}

/// The scene of `person` in poses `source` and `target`.
pub fn render_scene_with(
    person: &Person,
    source: &Articulation,
    target: &Articulation,
    cfg: &SynthConfig,
) -> SynthScene {
    check(cfg);
    let (w, h) = (cfg.width, cfg.height);
    let bg = render::background(person, w, h);
    let src = geometry::build(person, source, cfg);
    let tgt = geometry::build(person, target, cfg);
    let src_r = render::rasterize(&src, w, h);
    let tgt_r = render::rasterize(&tgt, w, h);
    let (src_img, source_person) = render::colorize(&src_r, &src, person, &bg);
    let (tgt_img, person_map) = render::colorize(&tgt_r, &tgt, person, &bg);
    let (flow, visibility) = render::flow_and_visibility(&src, &src_r, &tgt, &tgt_r);
    let background = RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let c = bg[y as usize * w + x as usize];
        image::Rgb(c.map(crate::imaging::to_u8))
    });
    SynthScene {
        pair: SynthPair {
            source: src_img,
            target: tgt_img,
            source_pose: src.pose,
            target_pose: tgt.pose,
            flow,
            visibility,
            person: person_map,
        },
        source_person,
        target_parts: render::part_ids(&tgt_r),
        background,
    }
}

/// `person` in one pose: the image and its keypoints.
pub fn render_single(person: &Person, pose: &Articulation, cfg: &SynthConfig) -> (RgbImage, Pose) {
    check(cfg);
    let (w, h) = (cfg.width, cfg.height);
    let bg = render::background(person, w, h);
    let fig = geometry::build(person, pose, cfg);
    let r = render::rasterize(&fig, w, h);
    let (img, _) = render::colorize(&r, &fig, person, &bg);
    (img, fig.pose)
}

/// One picture for judging background plates: the person over the background, the background
/// alone (what a perfect plate would be) and the person's coverage (H·W, 0..1).
#[derive(Clone, Debug)]
pub struct SynthPicture {
    pub image: RgbImage,
    pub background: RgbImage,
    pub person: Vec<f32>,
}

/// `person` in `pose` over its background, with the background drawn alone.
pub fn render_picture(person: &Person, pose: &Articulation, cfg: &SynthConfig) -> SynthPicture {
    check(cfg);
    let (w, h) = (cfg.width, cfg.height);
    let bg = render::background(person, w, h);
    let fig = geometry::build(person, pose, cfg);
    let r = render::rasterize(&fig, w, h);
    let (image, cover) = render::colorize(&r, &fig, person, &bg);
    // Rounded as `colorize` rounds, so uncovered pixels equal the image's exactly.
    let background = RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let c = bg[y as usize * w + x as usize];
        image::Rgb(c.map(crate::imaging::to_u8))
    });
    SynthPicture {
        image,
        background,
        person: cover,
    }
}
