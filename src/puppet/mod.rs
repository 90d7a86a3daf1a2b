//! The puppet warp baseline: an analytic, training-free backward flow from a source skeleton to
//! a target skeleton (both COCO-18, pixels of the same H×W frame), with a visibility mask and a
//! figure weight. It is the baseline the trained networks are compared against, and the app's
//! instant preview.
//!
//! **Parts.** Only joints present in *both* poses are used. Each arm/leg segment of
//! [`LIMBS`](crate::pose::LIMBS) is a bone whose map takes the target segment onto the source
//! segment (rotation, scale along the bone by the length ratio, scale across it by the global
//! body-scale ratio). The torso (neck, shoulders, hips) and the head (face joints, anchored at
//! the neck) are regions mapped by a least-squares affine fit of their joints, regularised
//! towards their least-squares similarity (so two or even one joint still give a sane map).
//! Every map is exact for a rigid motion of the skeleton.
//!
//! **Blending.** For a target pixel, each part has a normalised distance ρ = distance to its
//! shape (segment / joint hull) ÷ its radius (∝ the body scale: the torso length). Weights are a
//! softmax of `−ρ²/2τ² + depth_bias · cover · depth` (`cover` ≈ 1 inside the part, 0 outside),
//! so where parts overlap the one in front wins; the source position is the weighted mean of the
//! parts' maps (linear-blend skinning). `person` is 1 within a part's radius and falls smoothly
//! to 0 over `falloff · scale` beyond it. The flow blends the skinning towards the identity
//! (zero flow) with weight `β = smoothstep(0, 0.5, person)`: β = 1 wherever person ≥ 0.5, so
//! the figure moves exactly with its bones, and only the outer half of the edge band blends.
//!
//! **Visibility.** Each part gets a depth in each pose from the heuristic documented in
//! `puppet/depth.rs` (facing from face joints / shoulder order, nearer side from head turn, missing
//! joints or the lower foot; arms in front of the torso facing front, behind it facing back).
//! A figure pixel (person > 0.5) is hidden (mask 0) when its source position falls outside the
//! frame, or lies, in the source, within the radius of another part that is in front (source
//! depths) of its dominant part — the front-most target part covering it — except near a joint
//! the two parts share (their attachment). A background pixel is hidden when its source
//! position lies on the source figure (source person > 0.5): the background there is not seen.

mod depth;
mod extremities;
mod geometry;
mod head;
mod labels;
#[cfg(test)]
mod labels_tests;
mod ownership;
mod parts;
#[cfg(test)]
mod tests;

use geometry::{smoothstep, Bounds, P};
use rayon::prelude::*;

use crate::imaging::FlowField;
use crate::pose::Pose;

pub use depth::{Layer, Limb, LimbOrder};
pub use extremities::Extremities;
pub use labels::{part_labels, PartLabels};
pub use ownership::{ownership, unsquashed};
pub use parts::arm_cover;

/// Tuning of the puppet warp; lengths are relative to the body scale (the torso length,
/// neck → mid-hip, with fallbacks when those joints are missing).
#[derive(Clone, Debug, PartialEq)]
pub struct PuppetConfig {
    /// Radius of the upper-arm bones.
    pub upper_arm_radius: f64,
    pub forearm_radius: f64,
    pub thigh_radius: f64,
    pub shin_radius: f64,
    /// How far the figure extends beyond the hull of the torso joints.
    pub torso_radius: f64,
    /// How far the head extends beyond the hull of the face joints.
    pub head_radius: f64,
    /// Width of the band beyond the parts' radii over which `person` falls from 1 to 0.
    pub falloff: f64,
    /// Softness τ of the bone weights, in units of a part's radius (smaller: crisper seams).
    pub softness: f64,
    /// Log-weight bonus per unit of depth inside a part: the front part dominates overlaps.
    pub depth_bias: f64,
    /// Regularisation of the torso / head affine fits towards a similarity, × scale².
    pub affine_regularization: f64,
    /// How far the forearm's shape reaches past the wrist, × the forearm's length: the hand.
    /// COCO-18 stops at the wrist, but the hand must go where the forearm goes (a hand is
    /// about 0.75 forearm lengths; with the bone's radius 0.5 covers it).
    pub hand_extension: f64,
    /// Length of the foot part (ankle → toes, × body scale). It continues the shin for a
    /// person seen from the front or back and turns across it, towards the side the nose
    /// points to, for one seen from the side (a foot in profile points where the face does);
    /// half as long from the front, where the foot is foreshortened.
    pub foot_length: f64,
    /// How much the torso's and the head's maps may change their area against the
    /// similarity of their joints (0.1: ±10 %): they move (nearly) rigidly; bending happens at
    /// the joints.
    pub max_area_change: f64,
    /// Whether the person a moved limb uncovers is filled with texture (an exemplar fill from
    /// the person that stayed, `composite`) or smoothly (a membrane fill of their colours).
    /// Texture reads as cloth in a still; in an animation an exemplar fill per frame picks
    /// other patches as the uncovered region changes shape and the cloth boils, so animations
    /// fill smoothly here and take their grain from `photo_detail`. On the coarse grid with
    /// `photo_detail` on, the grid's fill is smooth whatever this says (the detail comes from
    /// the photo's layer).
    pub textured_fill: bool,
    /// On photos large enough for the coarse grid (400 px a side and more): the uncovered
    /// person's detail at the photo's own resolution, where a grid cell's fill is smooth (a
    /// fleece, a weave), from one exemplar fill per photo and source skeleton of the body
    /// under the arms (`PhotoLayers::under_arms`): the same place of the body gets the same
    /// grain in every edit, so animations (`animate`) and stills (`render`, the editor's
    /// export) turn it on. The fill costs ~0.05–0.25 s once, each edit then ~10 ms more on a
    /// megapixel photo, so the per-edit previews leave it off.
    pub photo_detail: bool,
    /// The user's depth order of the target's limbs (in front of / behind the body); all
    /// automatic by default. Only target depths change: the source's layering is the photo's.
    pub order: LimbOrder,
    /// Where the source photo's hands and feet point ([`Extremities::from_matte`]); `None`:
    /// the compositor measures them from the photo's matte at each edit (the warp alone, with
    /// no matte, guesses them from the skeleton: `hand_extension`, `foot_length`, as it does
    /// for any extremity not measured).
    pub extremities: Option<Extremities>,
}

impl Default for PuppetConfig {
    fn default() -> Self {
        Self {
            upper_arm_radius: 0.12,
            forearm_radius: 0.10,
            thigh_radius: 0.17,
            shin_radius: 0.13,
            torso_radius: 0.12,
            head_radius: 0.25,
            falloff: 0.15,
            softness: 0.4,
            depth_bias: 2.0,
            affine_regularization: 0.05,
            hand_extension: 0.5,
            foot_length: 0.35,
            max_area_change: 0.1,
            textured_fill: true,
            photo_detail: false,
            order: LimbOrder::default(),
            extremities: None,
        }
    }
}

impl PuppetConfig {
    /// The radius (× body scale) the settings give a limb bone of `region`.
    pub(crate) fn radius(&self, region: depth::Region) -> f64 {
        match region {
            depth::Region::Arm { lower: false, .. } => self.upper_arm_radius,
            depth::Region::Arm { lower: true, .. } => self.forearm_radius,
            depth::Region::Leg { lower: false, .. } => self.thigh_radius,
            depth::Region::Leg { lower: true, .. } => self.shin_radius,
            depth::Region::Torso => self.torso_radius,
            depth::Region::Head => self.head_radius,
        }
    }

    /// The settings for a still at the photo's resolution (`render`, the editor's export):
    /// the defaults with [`PuppetConfig::photo_detail`] on.
    pub fn still() -> Self {
        Self {
            photo_detail: true,
            ..Default::default()
        }
    }
}

/// The puppet warp of one frame.
#[derive(Clone, Debug, PartialEq)]
pub struct PuppetWarp {
    /// Backward flow: target pixel (x, y) samples the source at (x + dx, y + dy).
    pub flow: FlowField,
    /// H·W row-major: 1 = the point is visible in the source, 0 = hidden there.
    pub mask: Vec<f32>,
    /// H·W row-major: how much the target pixel belongs to the figure (1 on the bones, 0 on the
    /// background).
    pub person: Vec<f32>,
    /// `person` without the parts' reach past the wrists and ankles (where a hand or foot may
    /// be, or may not): where the skeleton itself puts body, for deciding what is person the
    /// source does not show.
    pub core: Vec<f32>,
    /// Whether a part is turned round ([`unsquashed`]): its mirrored map is its
    /// surface, not a fold.
    pub turned: bool,
}

/// Flows smaller than this many pixels are rounded to zero (floating-point noise of the fits).
const FLOW_EPS: f64 = 1e-6;

/// The puppet warp taking `source` (the photo's pose) to `target`, for an H×W frame. Joints
/// missing from either pose are ignored; with no usable part the flow is the identity and the
/// mask all 1.
pub fn puppet_warp(
    source: &Pose,
    target: &Pose,
    height: usize,
    width: usize,
    cfg: &PuppetConfig,
) -> PuppetWarp {
    let rig = parts::build(source, target, height, width, cfg);
    let reach = figure_bounds(&rig, cfg);
    let rows: Vec<Row> = (0..height)
        .into_par_iter()
        .map(|y| warp_row(&rig, cfg, reach, y, height, width))
        .collect();
    let plane = height * width;
    let mut flow = FlowField::zeros(height, width);
    let mut mask = Vec::with_capacity(plane);
    let mut person = Vec::with_capacity(plane);
    let mut core = Vec::with_capacity(plane);
    for (y, row) in rows.into_iter().enumerate() {
        flow.data[y * width..(y + 1) * width].copy_from_slice(&row.dx);
        flow.data[plane + y * width..plane + (y + 1) * width].copy_from_slice(&row.dy);
        mask.extend_from_slice(&row.mask);
        person.extend_from_slice(&row.person);
        core.extend_from_slice(&row.core);
    }
    PuppetWarp {
        flow,
        mask,
        person,
        core,
        turned: rig.parts.iter().any(|p| p.turned()),
    }
}

/// The baseline's output image: `source_image` backward-warped by the puppet flow (bilinear,
/// border-clamped; hidden regions get whatever the warp samples). The output has the flow's size.
pub fn puppet_render(source_image: &image::RgbImage, warp: &PuppetWarp) -> image::RgbImage {
    crate::imaging::warp_image(source_image, &warp.flow)
}

struct Row {
    dx: Vec<f32>,
    dy: Vec<f32>,
    mask: Vec<f32>,
    person: Vec<f32>,
    core: Vec<f32>,
}

/// `person` from the smallest signed distance to the parts' surfaces.
fn person_weight(surface: f64, band: f64) -> f64 {
    1.0 - smoothstep(0.0, band, surface)
}

/// Whether source position `q` is on the source figure (source person > 0.5).
fn on_source_figure(rig: &parts::Rig, cfg: &PuppetConfig, q: P) -> bool {
    let band = cfg.falloff * rig.scale_s;
    // A far part's surface lies past `band`, where the weight is 0 whichever part is nearest.
    let surface = rig
        .parts
        .iter()
        .filter(|p| !p.far_s(q, rig.far))
        .map(|p| p.shape_s.distance(q) - p.radius_s)
        .fold(f64::INFINITY, f64::min);
    person_weight(surface, band) > 0.5
}

/// Where a part's weight can reach, in the target (its shape grown by its radius and the
/// `person` falloff) and in the source (the same for the source figure test): past these
/// boxes a pixel is pure background, `person` exactly 0, not on the source figure, and the
/// per-part work is skipped — most of a photo's frame, at no change to any value.
fn figure_bounds(rig: &parts::Rig, cfg: &PuppetConfig) -> (Bounds, Bounds) {
    let (band_t, band_s) = (cfg.falloff * rig.scale_t, cfg.falloff * rig.scale_s);
    rig.parts
        .iter()
        .fold((Bounds::EMPTY, Bounds::EMPTY), |(t, s), p| {
            (
                t.union(p.shape_t.bounds().grown(p.radius_t + band_t)),
                s.union(p.shape_s.bounds().grown(p.radius_s + band_s)),
            )
        })
}

fn warp_row(
    rig: &parts::Rig,
    cfg: &PuppetConfig,
    (reach_t, reach_s): (Bounds, Bounds),
    y: usize,
    height: usize,
    width: usize,
) -> Row {
    let n = rig.parts.len();
    let mut row = Row {
        dx: vec![0.0; width],
        dy: vec![0.0; width],
        mask: vec![1.0; width],
        person: vec![0.0; width],
        core: vec![0.0; width],
    };
    if n == 0 || (reach_t.excludes_row(y as f64) && reach_s.excludes_row(y as f64)) {
        return row;
    }
    let band_t = cfg.falloff * rig.scale_t;
    let two_tau2 = 2.0 * cfg.softness * cfg.softness;
    let mut rho = vec![0.0; n];
    let mut logit = vec![0.0; n];
    for x in 0..width {
        let p = [x as f64, y as f64];
        if reach_t.excludes(p) {
            if !reach_s.excludes(p) && on_source_figure(rig, cfg, p) {
                row.mask[x] = 0.0;
            }
            continue;
        }
        let (mut surface, mut core) = (f64::INFINITY, f64::INFINITY);
        for (k, part) in rig.parts.iter().enumerate() {
            if part.far_t(p, rig.far) {
                rho[k] = f64::INFINITY; // no weight, no surface, no core here
                continue;
            }
            let d = part.shape_t.distance(p);
            // A part held within a disc (a head turned round) reaches no farther.
            let past = part.past_reach(p);
            surface = surface.min((d - part.radius_t).max(past));
            rho[k] = d / part.radius_t;
            // The core shape lies inside the part's shape: only a part already nearer than
            // the core found so far can bring it closer.
            if d - part.radius_t < core {
                core = core.min((part.core_t.distance(p) - part.radius_t).max(past));
            }
        }
        let person = person_weight(surface, band_t);
        row.person[x] = person as f32;
        row.core[x] = person_weight(core, band_t) as f32;
        if person <= 0.0 {
            // Pure background: identity flow; hidden if the source figure stands there.
            if on_source_figure(rig, cfg, p) {
                row.mask[x] = 0.0;
            }
            continue;
        }
        // Softmax weights with the depth bonus inside each part.
        for (k, part) in rig.parts.iter().enumerate() {
            if rho[k] == f64::INFINITY {
                logit[k] = f64::NEG_INFINITY;
                continue;
            }
            let cover = 1.0 - smoothstep(0.8, 1.2, rho[k]);
            logit[k] = -rho[k] * rho[k] / two_tau2 + cfg.depth_bias * cover * part.depth_t;
        }
        let top = logit.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (mut sw, mut sx, mut sy) = (0.0, 0.0, 0.0);
        let mut best = (0, f64::NEG_INFINITY); // highest weight
        for (k, part) in rig.parts.iter().enumerate() {
            if logit[k] == f64::NEG_INFINITY {
                continue; // a far part (see `Rig::far_radii`)
            }
            let w = (logit[k] - top).exp();
            let q = part.xf.apply(p);
            sw += w;
            sx += w * q[0];
            sy += w * q[1];
            if w > best.1 {
                best = (k, w);
            }
        }
        let beta = smoothstep(0.0, 0.5, person);
        let src = [
            p[0] + beta * (sx / sw - p[0]),
            p[1] + beta * (sy / sw - p[1]),
        ];
        let (fx, fy) = (src[0] - p[0], src[1] - p[1]);
        row.dx[x] = if fx.abs() < FLOW_EPS { 0.0 } else { fx as f32 };
        row.dy[x] = if fy.abs() < FLOW_EPS { 0.0 } else { fy as f32 };

        let visible = if person > 0.5 {
            let inside = src[0] >= -0.5
                && src[0] <= width as f64 - 0.5
                && src[1] >= -0.5
                && src[1] <= height as f64 - 0.5;
            // Dominant part: the front-most target part covering the pixel, else the heaviest.
            let dom = (0..n)
                .filter(|&k| rho[k] <= 1.0)
                .max_by(|&a, &b| rig.parts[a].depth_t.total_cmp(&rig.parts[b].depth_t))
                .unwrap_or(best.0);
            inside && !occluded_in_source(rig, dom, src)
        } else {
            !on_source_figure(rig, cfg, src)
        };
        if !visible {
            row.mask[x] = 0.0;
        }
    }
    row
}

/// Whether source position `q` of a pixel of part `dom` is covered, in the source, by another
/// part in front of `dom` (ignoring the neighbourhood of a joint the two share).
fn occluded_in_source(rig: &parts::Rig, dom: usize, q: P) -> bool {
    let d = &rig.parts[dom];
    rig.parts.iter().enumerate().any(|(k, c)| {
        if k == dom
            || c.depth_s <= d.depth_s
            || c.far_s(q, 1.0)
            || c.shape_s.distance(q) > c.radius_s
        {
            return false;
        }
        let near_attachment = c.joints.iter().filter(|j| d.joints.contains(j)).any(|&j| {
            rig.joints_s[j].is_some_and(|jp| {
                geometry::norm(geometry::sub(q, jp)) <= c.radius_s.max(d.radius_s)
            })
        });
        !near_attachment
    })
}
