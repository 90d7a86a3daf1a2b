//! A network's edit composited into the photo.
//!
//! GFLA sees a crop of the photo at its own small input size (128×96 for the shipped model) and
//! returns, per attention level, a backward flow and an occlusion mask, and an image in which
//! the parts the source never showed are invented. [`composite_network`] brings the finest
//! level's flow and mask and the image up to photo resolution (bilinear) and composites them
//! like the puppet's edit:
//!
//! * the person's **edges** come from the photo-resolution matte warped by the upsampled flow,
//!   not from the coarse grid (a 1/4-level cell of the shipped model is ~10 photo pixels on a
//!   1-megapixel photo);
//! * **ownership** (which target pixels the person occupies) comes from the skeletons, not
//!   from the network: the puppet's ownership test ([`crate::puppet::ownership`]: a limb's old
//!   place is not person any more, no ghost limb; what did not move stays) and the core of the
//!   target figure (within the parts' radii, where the network invents what the source hid).
//!   Away from the network's crop nothing moves (zero flow).
//! * where the mask says the source does not show a target pixel of the figure, the pixel is the
//!   network's, colour-matched to the warped photo (gain and offset per channel over the pixels
//!   both agree are visible person).
//!
//! PoNA has no flow or occlusion output; its edit has nothing to composite here (its image alone
//! is the raw output).

use super::colour::match_colours;
use super::upsample::{Placement, Upsampler};
use super::{composite_with, Composited, Invented, PhotoLayers};
use crate::imaging::FlowField;
use crate::pose::Pose;
use crate::puppet::PuppetConfig;
use anyhow::{ensure, Result};
use candle_core::Tensor;
use image::RgbImage;

/// One network edit, as the network returned it.
pub struct NetworkEdit<'a> {
    /// The generated image, at the network's input size.
    pub image: &'a RgbImage,
    /// Where `image` lies in the photo.
    pub image_at: Placement,
    /// The finest level's backward flow, in that level's cells.
    pub flow: &'a FlowField,
    /// The same level's occlusion mask (1 = the source shows the point), row-major.
    pub mask: &'a [f32],
    /// Where the level's grid lies in the photo.
    pub level_at: Placement,
    /// A puppet-prior model's part of `flow`: flow − the puppet's ([`crate::model::gfla::prior`]).
    /// With it the edit is the puppet's, corrected and painted by the network.
    pub correction: Option<&'a FlowField>,
}

/// What a GFLA forward pass says about one picture, as plain arrays: its image, and its finest
/// attention level's flow (in that level's cells) and occlusion mask.
pub struct NetworkOutputs {
    pub image: RgbImage,
    pub flow: FlowField,
    pub mask: Vec<f32>,
    /// The flow's correction of the puppet prior, for a model with one.
    pub correction: Option<FlowField>,
}

impl NetworkOutputs {
    /// Batch item `i` of a forward pass's image (B, 3, H, W) and per-level flows (B, 2, h, w)
    /// and masks (B, 1, h, w), deepest level first, and the puppet prior it was given.
    pub fn finest(
        image: &Tensor,
        flows: &[Tensor],
        masks: &[Tensor],
        prior: Option<&[Tensor]>,
        i: usize,
    ) -> Result<Self> {
        let (Some(flow), Some(mask)) = (flows.last(), masks.last()) else {
            anyhow::bail!("the model has no flow output");
        };
        // The prior's flows are per level like `flows`, then one at the input size.
        let correction = match prior.and_then(|p| p.get(flows.len() - 1)) {
            Some(p) => Some(FlowField::from_tensor(&(flow.get(i)? - p.get(i)?)?)?),
            None => None,
        };
        Ok(Self {
            image: crate::imaging::tensor_to_image(&image.get(i)?)?,
            flow: FlowField::from_tensor(&flow.get(i)?)?,
            mask: mask.get(i)?.flatten_all()?.to_vec1::<f32>()?,
            correction,
        })
    }

    /// The edit, with the network's input covering the photo box `(x0, y0, box_w, box_h)`.
    pub fn placed(&self, x0: f64, y0: f64, box_w: f64, box_h: f64) -> NetworkEdit<'_> {
        let (iw, ih) = (self.image.width() as usize, self.image.height() as usize);
        NetworkEdit {
            image: &self.image,
            image_at: Placement::new(x0, y0, box_w, box_h, iw, ih),
            flow: &self.flow,
            mask: &self.mask,
            level_at: Placement::new(x0, y0, box_w, box_h, self.flow.width, self.flow.height),
            correction: self.correction.as_ref(),
        }
    }
}

/// The network's edit from `source` to `target` (photo pixels), composited over `layers`.
/// `cfg` shapes the skeletons' figure and ownership.
pub fn composite_network(
    layers: &PhotoLayers,
    source: &Pose,
    target: &Pose,
    edit: &NetworkEdit<'_>,
    cfg: &PuppetConfig,
) -> Result<Composited> {
    let (h, w) = layers.size();
    let at = &edit.level_at;
    ensure!(
        edit.flow.height == at.grid_h
            && edit.flow.width == at.grid_w
            && edit.mask.len() == at.grid_h * at.grid_w,
        "network level of {}×{} flow, {} mask values for a {}×{} grid",
        edit.flow.height,
        edit.flow.width,
        edit.mask.len(),
        at.grid_h,
        at.grid_w
    );
    ensure!(
        edit.image.dimensions() == (edit.image_at.grid_w as u32, edit.image_at.grid_h as u32),
        "network image of {:?} for a {}×{} grid",
        edit.image.dimensions(),
        edit.image_at.grid_w,
        edit.image_at.grid_h
    );
    if let Some(correction) = edit.correction {
        let guide = super::puppet::Guide {
            correction,
            level_at: edit.level_at,
            image: edit.image,
            image_at: edit.image_at,
        };
        return super::puppet::composite_guided(layers, source, target, cfg, Some(&guide));
    }
    let level = Upsampler::new(at, h, w);
    let flow = level.flow(edit.flow);
    let visible = level.map(edit.mask, 1.0);
    // Which target pixels the moved figure shows: the skeletons' answer.
    let owned = super::puppet::owned_figure(layers, source, target, cfg);
    let mut image = Upsampler::new(&edit.image_at, h, w).image(edit.image);
    match_colours(&mut image, layers, &flow, &visible, &owned);
    composite_with(
        layers,
        &flow,
        &owned,
        Some(Invented {
            image: &image,
            visible: &visible,
            body: None,
        }),
    )
}
