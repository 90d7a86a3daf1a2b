//! The network side of an edit: the crop of the photo the network sees, its source features
//! computed once per photo and source skeleton, and one forward pass per target.

use crate::composite::{NetworkEdit, NetworkOutputs};
use crate::imaging::{self, fit, FitTransform};
use crate::model::{Generated, Generator, PreparedSource};
use crate::pose::Pose;
use anyhow::{Context, Result};
use candle_core::{Device, Tensor};
use image::RgbImage;

/// How the network's crop of the photo is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CropPolicy {
    /// Around both skeletons, a new crop per edit: the tightest view of the person (`render`,
    /// `animate`, the editor's export).
    Tight,
    /// The tight crop with a little room ([`choose_crop`]), kept while the target stays inside
    /// it so that the source features are reused across edits (the editor's live result).
    Reusable,
}

/// Extra room around both skeletons beyond the tight crop, so small edits stay inside the crop
/// and the source features can be reused. Small: a looser crop makes the person smaller in the
/// model's input than in its training pictures, which costs more than recomputing.
const CROP_SLACK: f64 = 1.05;
/// A target joint closer than this fraction of the crop to its border forces a new crop.
const CROP_INNER_MARGIN: f64 = 0.04;

/// Everything computed from the photo and the source skeleton alone.
struct Scene {
    photo: Option<u64>,
    source: Pose,
    crop: FitTransform,
    image: Tensor,
    source_heatmaps: Tensor,
    prepared: PreparedSource,
}

/// A network and its cached scene.
pub struct NetworkRunner {
    generator: Generator,
    device: Device,
    policy: CropPolicy,
    scene: Option<Scene>,
}

/// One forward pass: the network's outputs and the crop they belong to.
pub struct NetworkRun {
    pub output: Generated,
    /// The crop the network saw; maps its outputs onto the photo.
    pub crop: FitTransform,
    /// The keypoint frame (H, W) of the network.
    pub frame_hw: (usize, usize),
    /// Whether the cached source features were used.
    pub source_reused: bool,
}

impl NetworkRun {
    /// The finest level's flow and mask and the image, as plain arrays (GFLA only).
    pub fn outputs(&self) -> Result<NetworkOutputs> {
        let o = &self.output;
        NetworkOutputs::finest(&o.image, &o.flows, &o.masks, o.prior.as_deref(), 0)
    }

    /// `outputs` placed where the crop lies in the photo, for the compositor.
    pub fn placed<'a>(&self, outputs: &'a NetworkOutputs) -> NetworkEdit<'a> {
        let c = &self.crop;
        outputs.placed(c.x0, c.y0, c.crop_w, c.crop_h)
    }

    /// The output image at the keypoint frame's size ([`super::frame_image`]).
    pub fn frame_image(&self) -> Result<RgbImage> {
        let image = imaging::tensor_to_image(&self.output.image)?;
        Ok(super::frame_image(&image, self.frame_hw))
    }
}

impl NetworkRunner {
    pub fn new(generator: Generator, device: Device, policy: CropPolicy) -> Self {
        Self {
            generator,
            device,
            policy,
            scene: None,
        }
    }

    pub fn generator(&self) -> &Generator {
        &self.generator
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Runs the network from `source` to `target` (photo pixels). `photo_key` names the photo
    /// for the cache (`None`: never reuse); the scene is reused when the photo, the source
    /// skeleton and the crop still hold.
    pub fn run(
        &mut self,
        photo_key: Option<u64>,
        photo: &RgbImage,
        source: &Pose,
        target: &Pose,
    ) -> Result<NetworkRun> {
        anyhow::ensure!(
            source.num_present() > 0,
            "the source skeleton has no visible joints"
        );
        let frame_hw = self.generator.keypoint_frame_hw();
        let tight = || fit::tight_crop(&[source, target], photo.dimensions(), frame_hw);
        let reusable = self.scene.as_ref().is_some_and(|s| {
            photo_key.is_some()
                && s.photo == photo_key
                && s.source == *source
                && match self.policy {
                    CropPolicy::Tight => s.crop == tight(),
                    CropPolicy::Reusable => crop_contains(&s.crop, target),
                }
        });
        if !reusable {
            let crop = match self.policy {
                CropPolicy::Tight => tight(),
                CropPolicy::Reusable => choose_crop(photo.dimensions(), source, target, frame_hw),
            };
            self.scene = None;
            self.scene = Some(self.prepare(photo_key, photo, source, crop)?);
        }
        let scene = self.scene.as_ref().context("no scene")?;
        let g = &self.generator;
        let target_pose = scene.crop.pose_to_frame(target);
        let target_heatmaps = g.encode_poses(std::slice::from_ref(&target_pose), &self.device)?;
        let prior = g.encode_prior(
            &[scene.crop.pose_to_frame(source)],
            &[target_pose],
            &self.device,
        )?;
        let output = g.forward_with_source(
            &scene.prepared,
            &scene.image,
            &scene.source_heatmaps,
            &target_heatmaps,
            prior.as_deref(),
        )?;
        Ok(NetworkRun {
            output,
            crop: scene.crop,
            frame_hw,
            source_reused: reusable,
        })
    }

    /// The crop resampled to the network's input and what the source gives alone.
    fn prepare(
        &self,
        photo_key: Option<u64>,
        photo: &RgbImage,
        source: &Pose,
        crop: FitTransform,
    ) -> Result<Scene> {
        let g = &self.generator;
        let fitted = fit::fit_photo_to(photo, crop, g.input_hw());
        let image = imaging::image_to_tensor(&fitted.image, &self.device)?;
        let source_heatmaps = g.encode_poses(&[crop.pose_to_frame(source)], &self.device)?;
        let prepared = g.encode_source(&image)?;
        Ok(Scene {
            photo: photo_key,
            source: source.clone(),
            crop,
            image,
            source_heatmaps,
            prepared,
        })
    }
}

/// The crop for a new reusable scene: the tight crop around both skeletons, enlarged by
/// `CROP_SLACK` (5 %) about its centre.
pub fn choose_crop(
    photo_wh: (u32, u32),
    source: &Pose,
    target: &Pose,
    frame_hw: (usize, usize),
) -> FitTransform {
    let tight = fit::tight_crop(&[source, target], photo_wh, frame_hw);
    let (cx, cy) = (tight.x0 + tight.crop_w / 2.0, tight.y0 + tight.crop_h / 2.0);
    let (w, h) = (
        (tight.crop_w * CROP_SLACK).round(),
        (tight.crop_h * CROP_SLACK).round(),
    );
    FitTransform {
        x0: (cx - w / 2.0).round(),
        y0: (cy - h / 2.0).round(),
        crop_w: w,
        crop_h: h,
        ..tight
    }
}

/// Whether every visible joint of `pose` lies inside the crop, away from its border.
pub fn crop_contains(crop: &FitTransform, pose: &Pose) -> bool {
    let (mx, my) = (
        crop.crop_w * CROP_INNER_MARGIN,
        crop.crop_h * CROP_INNER_MARGIN,
    );
    pose.present().all(|(_, p)| {
        let (x, y) = (p.x as f64, p.y as f64);
        x >= crop.x0 + mx
            && x <= crop.x0 + crop.crop_w - mx
            && y >= crop.y0 + my
            && y <= crop.y0 + crop.crop_h - my
    })
}
