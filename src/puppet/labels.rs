//! Which body part owns each pixel of the source photo, judged inside the person's matte.
//!
//! The warp weighs parts by straight-line distance to their bones, and [`super::ownership`]
//! asked the same question of the source: so a forearm lying on the chest owned the chest's
//! pixels within its radius (and dragged them along when it moved), an upper arm owned the
//! collar beside the shoulder, a raised hand the part of a held camera inside the matte. Here
//! each part grows from the middle of its bones (its *seeds*: the pixels the straight-line rule
//! gives it along its bone, short of the joint it shares with the torso, and short of
//! the hand or foot the skeleton does not see) over the matte's pixels, paying for distance in
//! its own radii and for every colour edge it crosses ([`crate::imaging::geodesic`]); the part
//! that arrives first owns the pixel. Within one colour the boundary stays where the
//! straight-line rule put it (a part in front starts ahead, as its depth bonus does there);
//! a sleeve's outline on a shirt of another colour stops the arm.

use super::depth::Region;
use super::geometry::{dot, sub, P};
use super::parts::{self, Part, Rig, SourceOwner};
use super::PuppetConfig;
use crate::imaging::geodesic::{competing_fronts, FrontCosts, Seed};
use crate::pose::Pose;
use image::RgbImage;

/// Matte values from this up are the person's pixels the fronts cross.
const DOMAIN: f32 = 0.1;
/// The colour the fronts see is the photo's mean over a (2r+1)² box of this radius.
const GRAIN_RADIUS: usize = 2;
/// Seeds lie within this many radii of their part's bone (and a pixel): inside the limb however
/// thin its sleeve, so that a front meets the sleeve's edge rather than starting past it.
const SEED_RADII: f64 = 0.2;
/// An upper arm or thigh seeds only past this fraction of its bone from the shoulder or hip:
/// around the joint the torso's pixels (a collar, a waistband) are as near as the limb's.
const PROXIMAL: f64 = 0.2;
/// A front's cost per unit of colour change (RGB distance of 0..1 channels), in radii: a sleeve
/// edge of contrast 0.125 costs as much as a radius of distance. Measured (`eval --count 100
/// --size 256x192`, frame / person PSNR): 0 (the matte's geodesic alone) 25.32 / 19.70, 2:
/// 25.41 / 19.77, 4: 25.44 / 19.80, 8: 25.46 / 19.83, 16 and 32 the same as 8; the straight
/// line rule 25.40 / 19.82.
const PER_COLOUR: f32 = 8.0;
/// How far ahead (in radii) a part at the front of the figure (an arm before the chest, depth
/// 2) starts against one at depth 0 (the torso): within one colour an arm on the chest then
/// owns about a radius of its bone, as the straight-line rule's depth bonus gives it. (0.6 to
/// 1.2 with seeds of 0.15 to 0.5 radii: within ±0.01 dB on `eval --count 100`.)
const HEAD_START: f64 = 0.9;

/// Per pixel of the frame it was made for, the part that owns it, if the fronts reached it.
#[derive(Clone, Debug, PartialEq)]
pub struct PartLabels {
    width: usize,
    height: usize,
    /// The parts labels name: region and joints (a measured hand or foot shares its bone's
    /// region; its joints tell it apart).
    parts: Vec<(Region, Vec<usize>)>,
    labels: Vec<Option<u16>>,
}

impl PartLabels {
    /// The region of the part that owns the pixel nearest `q`, if any.
    #[cfg(test)]
    pub(crate) fn region_at(&self, q: P) -> Option<Region> {
        self.at(q).map(|l| self.parts[l as usize].0)
    }

    /// The label at the pixel nearest `q`, if any.
    pub(crate) fn at(&self, q: P) -> Option<u16> {
        let (x, y) = (q[0].round(), q[1].round());
        if x < 0.0 || y < 0.0 || x >= self.width as f64 || y >= self.height as f64 {
            return None;
        }
        self.labels[y as usize * self.width + x as usize]
    }

    /// For each label, the index of the same part in `rig` (a rig of the same source skeleton
    /// with another target may lack parts whose joints the target lacks).
    pub(crate) fn in_rig(&self, rig: &Rig) -> Vec<Option<usize>> {
        self.parts
            .iter()
            .map(|(region, joints)| {
                rig.parts
                    .iter()
                    .position(|p| p.region == *region && p.joints == *joints)
            })
            .collect()
    }

    /// The owner (an index into `rig.parts`) of source point `q`, where the labels have one;
    /// `map` is [`PartLabels::in_rig`] of `rig`.
    pub(crate) fn owner(&self, q: P, map: &[Option<usize>]) -> Option<usize> {
        self.at(q)
            .and_then(|l| map.get(l as usize).copied().flatten())
    }

    /// Whether the labels were made for an `height × width` frame.
    pub fn fits(&self, height: usize, width: usize) -> bool {
        self.height == height && self.width == width
    }
}

/// The parts of the figure `source` (pixels of `photo`) grown over its `matte` (row-major,
/// 0..1, the photo's size).
pub fn part_labels(
    source: &Pose,
    photo: &RgbImage,
    matte: &[f32],
    cfg: &PuppetConfig,
) -> PartLabels {
    let (width, height) = (photo.width() as usize, photo.height() as usize);
    let rig = parts::build(source, source, height, width, cfg);
    let domain: Vec<bool> = (0..width * height)
        .map(|i| matte.get(i).is_some_and(|&a| a >= DOMAIN))
        .collect();
    let mut seeds = Vec::new();
    for (i, _) in domain.iter().enumerate().filter(|(_, &d)| d) {
        let q = [(i % width) as f64, (i / width) as f64];
        let Some(SourceOwner { part: k, rho, .. }) = rig.source_owner(q, cfg) else {
            continue;
        };
        if rho <= SEED_RADII.max(1.0 / rig.parts[k].radius_s) && seeds_at(&rig, &rig.parts[k], q) {
            seeds.push(Seed {
                index: i,
                label: k as u16,
                cost: (HEAD_START * (2.0 - rig.parts[k].depth_s.clamp(-1.0, 2.0)) / 2.0) as f32,
            });
        }
    }
    let costs = FrontCosts {
        per_pixel: rig
            .parts
            .iter()
            .map(|p| (1.0 / p.radius_s.max(1e-3)) as f32)
            .collect(),
        per_colour: PER_COLOUR,
    };
    let labels = competing_fronts(&smoothed(photo), &domain, &seeds, &costs)
        .into_iter()
        .map(|r| r.map(|(l, _)| l))
        .collect();
    PartLabels {
        width,
        height,
        parts: rig
            .parts
            .iter()
            .map(|p| (p.region, p.joints.clone()))
            .collect(),
        labels,
    }
}

/// `photo` under a box blur of [`GRAIN_RADIUS`]: an edge costs a front the same (its change is
/// only spread over a few steps), a cloth's grain (a fleece, a tweed, sensor noise) a fifth.
/// Unblurred, the fronts followed the grain's quiet paths and the labels frayed: the cloth an
/// arm uncovers changed shape from edit to edit.
fn smoothed(photo: &RgbImage) -> RgbImage {
    let w = photo.width() as usize;
    let planes = crate::imaging::guided::box_mean_rgb(photo, GRAIN_RADIUS);
    RgbImage::from_fn(photo.width(), photo.height(), |x, y| {
        let i = y as usize * w + x as usize;
        image::Rgb([0, 1, 2].map(|c| crate::imaging::to_u8(planes[c][i])))
    })
}

/// Whether `part` may seed at source point `q` (its straight-line owner, near its bone): not
/// past a terminal joint (a hand or foot: the matte's reach there may hold what the person
/// holds), not near the shoulder or hip end of an upper arm or thigh.
fn seeds_at(rig: &Rig, part: &Part, q: P) -> bool {
    let limb = matches!(part.region, Region::Arm { .. } | Region::Leg { .. });
    if !limb {
        return true;
    }
    let [a, b] = match part.joints[..] {
        [a, b] => [a, b],
        _ => return false, // a hand or foot part of its own
    };
    let (Some(pa), Some(pb)) = (rig.joints_s[a], rig.joints_s[b]) else {
        return false;
    };
    let ab = sub(pb, pa);
    let t = dot(sub(q, pa), ab) / dot(ab, ab).max(1e-9);
    let upper = matches!(
        part.region,
        Region::Arm { lower: false, .. } | Region::Leg { lower: false, .. }
    );
    let start = if upper { PROXIMAL } else { 0.0 };
    (start..=1.0).contains(&t)
}
