//! Which target pixels the moved figure really owns, for compositing onto a photo.
//!
//! The warp's flow is the identity away from the target figure, so a pixel where a limb *used
//! to be* samples that limb in place: the matte there still says "person" and the limb would
//! stay behind as a ghost. Ownership removes it with a consistency test: a target pixel `x`
//! samples the source at `q`; the part that owns `q` in the source (the front-most, nearest
//! part there, as the warp weighs parts) would itself take `x` to `xf(x)`. If that is `q`, the
//! part really is at `x` in the target (a moved limb at its new place, an unmoved torso or a
//! skirt beyond the bones); if it is far from `q`, the part has moved away and `x` is vacated.
//! A part's mirror twin (the other thigh) may claim the point too where both cover it.

use super::geometry::{norm, smoothstep, sub, Bounds};
use super::labels::PartLabels;
use super::parts::{self, UNATTACHED};
use super::{PuppetConfig, PuppetWarp};
use crate::imaging::FlowField;
use crate::pose::Pose;
use rayon::prelude::*;

/// Per target pixel (H·W, row-major), 1 where the source point it samples belongs to the part
/// that puts it there, falling to 0 where that part has moved away (the distance between where
/// the owner would sample and where the warp samples grows from ¼ to ¾ of the part's radius).
/// A source point near no part (beyond 1.5 radii of every part: a forearm whose wrist was not
/// found, a bag, loose hair) belongs to none: it stays owned and goes where the warp takes it
/// (in place, away from the moved parts). With no usable part every pixel is owned.
///
/// `labels` ([`part_labels`](super::part_labels) of the source, on the warp's frame) say which
/// part owns a source point of the person where they have it: the part grown over the matte
/// up to its colour edges, not the nearest bone.
pub fn ownership(
    source: &Pose,
    target: &Pose,
    warp: &PuppetWarp,
    cfg: &PuppetConfig,
    labels: Option<&PartLabels>,
) -> Vec<f32> {
    let (height, width) = (warp.flow.height, warp.flow.width);
    let rig = parts::build(source, target, height, width, cfg);
    if rig.parts.is_empty() {
        return vec![1.0; height * width];
    }
    // The labels with, per label, its part in this rig.
    let labelled = labels
        .filter(|l| l.fits(height, width))
        .map(|l| (l, l.in_rig(&rig)));
    let twins = parts::mirror_twins(&rig.parts);
    let extremity = parts::extremities_of(&rig.parts);
    // Past this box a source point is beyond `UNATTACHED` radii of every part.
    let attached = rig.parts.iter().fold(Bounds::EMPTY, |b, p| {
        b.union(p.shape_s.bounds().grown(UNATTACHED * p.radius_s))
    });
    let mut out = vec![0f32; height * width];
    out.par_chunks_mut(width).enumerate().for_each(|(y, row)| {
        for (x, o) in row.iter_mut().enumerate() {
            let (dx, dy) = warp.flow.get(x, y);
            let p = [x as f64, y as f64];
            let q = [p[0] + dx as f64, p[1] + dy as f64];
            if attached.excludes(q) {
                *o = 1.0;
                continue;
            }
            // The source owner of q: the labels' where they have one (the part grown over the
            // matte up to colour edges), else the highest weight as the warp weighs parts, in
            // the source.
            let nearest = match rig.source_owner(q, cfg) {
                Some(o) if o.nearest <= UNATTACHED => o.part,
                _ => {
                    *o = 1.0;
                    continue;
                }
            };
            let owner = labelled
                .as_ref()
                .and_then(|(l, map)| l.owner(q, map))
                .unwrap_or(nearest);
            let claim = |k: usize| {
                let part = &rig.parts[k];
                let miss = norm(sub(part.xf.apply(p), q)) / part.radius_s;
                let within = 1.0 - smoothstep(-1.0, 1.0, part.past_reach(p));
                ((1.0 - smoothstep(0.25, 0.75, miss)) * within) as f32
            };
            // Its mirror twin, where it covers q too (legs crossing in a side view), may claim
            // q as well: the owner hides it there, but the twin wears the same clothes, and
            // the pixel is a far better guess for it than the background plate.
            let twin =
                twins[owner].filter(|&t| rig.parts[t].shape_s.distance(q) <= rig.parts[t].radius_s);
            let turned = rig.parts[owner].turned();
            // The limb's own hand or foot may claim it too (a shoe labelled with its shin).
            let own = claim(owner)
                .max(twin.map_or(0.0, claim))
                .max(extremity[owner].map_or(0.0, claim));
            *o = own * unsquashed(&warp.flow, x, y, turned);
        }
    });
    out
}

/// Where the warp squeezes many source pixels into one target pixel, it samples a streak, not a
/// surface: where the flow changes from a moved limb's map to the identity over a few pixels
/// (the edge band of the puppet, or one cell of its coarse grid brought up to the photo), the
/// samples sweep across the whole old limb and draw it as a thin arc. Per pixel of `flow`:
/// 1 where the backward map's area ratio ([`FlowField::area_ratio`]) is below `SQUASH_FROM`,
/// falling to 0 at `SQUASH_TO`; 0 where the map folds over (ratio ≤ 0). A rigid or scaled
/// limb has a ratio near 1, the identity exactly 1.
///
/// With `turned` (the pixel's part is turned round, [`super::parts::Part::turned`]: its
/// shoulders swapped), a map that mirrors the surface whole (an area ratio of −[`TURNED_FROM`]
/// or below) counts like its mirror image; a fold between two maps passes through ratio 0 and
/// still counts as none. The back of a turned torso is unknown, but its own front, mirrored,
/// is the same garment in the same light: the synthetic turns (`eval`) showed a smooth
/// membrane blob over the whole torso instead. Never for a head: the face would come round
/// onto the back of it.
pub fn unsquashed(flow: &FlowField, x: usize, y: usize, turned: bool) -> f32 {
    let det = flow.area_ratio(x, y) as f64;
    squash_weight(if turned && det <= -TURNED_FROM {
        -det
    } else {
        det
    })
}

fn squash_weight(det: f64) -> f32 {
    if det <= 0.0 {
        return 0.0;
    }
    1.0 - smoothstep(SQUASH_FROM, SQUASH_TO, det) as f32
}

/// The least area ratio (negated) of a map taken as a part turned round rather than folded:
/// a turned torso's lies near −1 (its fit is pulled towards the mirrored similarity), a fold's
/// crosses 0.
pub const TURNED_FROM: f64 = 0.3;

/// See [`unsquashed`].
const SQUASH_FROM: f64 = 4.0;
const SQUASH_TO: f64 = 8.0;
