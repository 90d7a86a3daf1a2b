//! The puppet's parts: which bones exist for a pair of skeletons, their shapes in both frames,
//! their radii, depths and target→source transforms.

use super::depth::{depth, orientation, Region};
use super::geometry::{
    area_limited, centroid, dot, neck_to_hips, norm, regularised_affine, similarity_linear,
    similarity_or_mirror, smoothstep, sub, xy, Affine, Bounds, Shape, P,
};
use super::head;
use super::PuppetConfig;
use crate::pose::skeleton::*;
use crate::pose::{Pose, NUM_JOINTS};

/// A skull's reach in the target: centre, radius and the unit direction from the neck
/// ([`Part::within_t`]).
pub(crate) type Reach = (P, f64, P);

/// One rigid-ish body part of the puppet.
#[derive(Clone, Debug)]
pub(crate) struct Part {
    /// The joints it is built from (parts sharing a joint are attached there).
    pub joints: Vec<usize>,
    pub shape_t: Shape,
    pub shape_s: Shape,
    /// The target shape without what lies past a terminal joint (the hand beyond the wrist,
    /// the foot beyond the ankle): where the skeleton itself says there is body. The parts'
    /// reach past the wrist and ankle is a guess of where a hand or foot *may* be.
    pub core_t: Shape,
    /// Radius (pixels) of the part around its shape, in the target and in the source.
    pub radius_t: f64,
    pub radius_s: f64,
    pub depth_t: f64,
    pub depth_s: f64,
    /// Target position → source position.
    pub xf: Affine,
    /// Which kind of body part it is.
    pub region: Region,
    /// A skull (target centre, radius, unit direction from the neck) past which the part
    /// reaches no pixel (towards the neck: no wider than it): a head turned round, whose
    /// [`crown_map`] squeezes the crown and beyond the skull would draw the hair above it
    /// stretched into a spike.
    pub within_t: Option<Reach>,
    /// The boxes of `shape_t` and `shape_s` (for [`Part::far_t`], [`Part::far_s`]).
    box_t: Bounds,
    box_s: Bounds,
}

/// Beyond this many radii from every part, a source point belongs to no part (ownership);
/// [`Rig::far_radii`] never skips a part nearer than this.
pub(crate) const UNATTACHED: f64 = 1.5;

/// How much smaller (as a log-weight) a part skipped as far must be than the part that has a
/// pixel: e^-50 ≈ 2·10⁻²², far below what an f32 flow or colour can show.
const FAR_LOG_GAP: f64 = 50.0;

impl Rig {
    /// In radii of each part: past this distance from its shape a part has no say in a pixel,
    /// so the warp and the ownership skip it after a box test (most of a figure's parts, at
    /// most pixels). A pixel with any `person` lies within `1 + falloff / rel` radii of some
    /// part (`rel` the smallest part radius over the body scale); past the returned distance
    /// a part's bone weight is below e^-[`FAR_LOG_GAP`] of that part's, whatever the depth
    /// bonus, and its surface lies past the falloff: it cannot move a flow, win a pixel or
    /// make it person. (About 5 radii with the default settings.)
    pub fn far_radii(&self, cfg: &PuppetConfig) -> f64 {
        let parts = || self.parts.iter();
        let rel = parts()
            .flat_map(|p| [p.radius_t / self.scale_t, p.radius_s / self.scale_s])
            .filter(|r| r.is_finite() && *r > 0.0)
            .fold(f64::INFINITY, f64::min);
        let depth = parts()
            .flat_map(|p| [p.depth_t.abs(), p.depth_s.abs()])
            .fold(0.0, f64::max);
        let live = (1.0 + cfg.falloff / rel).max(UNATTACHED);
        let two_tau2 = 2.0 * cfg.softness * cfg.softness;
        let far = (live * live + two_tau2 * (FAR_LOG_GAP + cfg.depth_bias.abs() * depth)).sqrt();
        if far.is_finite() {
            far
        } else {
            f64::INFINITY // degenerate radii: skip nothing
        }
    }
}

/// The part a source point belongs to by straight-line distance ([`Rig::source_owner`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct SourceOwner {
    /// Index into [`Rig::parts`].
    pub part: usize,
    /// Its distance from the point, in its radii.
    pub rho: f64,
    /// The nearest part's distance, in its radii (beyond [`UNATTACHED`]: no part's).
    pub nearest: f64,
}

impl Rig {
    /// Who owns source point `q` as the warp weighs parts (in the source): the highest of
    /// `−ρ²/2τ² + depth_bias · cover · depth`; `None` when every part is far.
    pub fn source_owner(&self, q: P, cfg: &PuppetConfig) -> Option<SourceOwner> {
        let two_tau2 = 2.0 * cfg.softness * cfg.softness;
        let mut best: Option<(SourceOwner, f64)> = None;
        let mut nearest = f64::INFINITY;
        for (k, part) in self.parts.iter().enumerate() {
            if part.far_s(q, self.far) {
                continue; // past `UNATTACHED` and never the owner: see `Rig::far_radii`
            }
            let rho = part.shape_s.distance(q) / part.radius_s;
            let cover = 1.0 - smoothstep(0.8, 1.2, rho);
            let logit = -rho * rho / two_tau2 + cfg.depth_bias * cover * part.depth_s;
            nearest = nearest.min(rho);
            if best.is_none_or(|(_, l)| logit > l) {
                best = Some((
                    SourceOwner {
                        part: k,
                        rho,
                        nearest,
                    },
                    logit,
                ));
            }
        }
        best.map(|(o, _)| SourceOwner { nearest, ..o })
    }
}

impl Part {
    /// Whether the part is turned round between source and target (its map mirrors: the
    /// shoulders swapped), so the target shows the back of what the source shows the front
    /// of. Never a head (its map is held to the body's similarity; a face must not come round
    /// onto the back of it) nor a limb (a bone's map only turns and scales).
    pub fn turned(&self) -> bool {
        let a = self.xf.a;
        self.region != Region::Head && a[0][0] * a[1][1] - a[0][1] * a[1][0] < 0.0
    }

    /// How far target point `p` lies past [`Part::within_t`] (negative inside; −∞ without).
    pub fn past_reach(&self, p: P) -> f64 {
        self.within_t.map_or(f64::NEG_INFINITY, |(c, r, up)| {
            let d = sub(p, c);
            if dot(d, up) < 0.0 {
                (d[0] * up[1] - d[1] * up[0]).abs() - r
            } else {
                norm(d) - r
            }
        })
    }

    /// Whether target point `p` is past `far` radii ([`Rig::far_radii`]) from the shape.
    pub fn far_t(&self, p: P, far: f64) -> bool {
        self.box_t.farther_than(p, far * self.radius_t)
    }

    /// Whether source point `q` is past `far` radii ([`Rig::far_radii`]) from the shape.
    pub fn far_s(&self, q: P, far: f64) -> bool {
        self.box_s.farther_than(q, far * self.radius_s)
    }
}

/// The limb bones, each limb's two side by side (upper, then lower): (joint, joint, part).
pub(crate) const LIMB_BONES: [(usize, usize, Region); 8] = [
    (
        R_SHOULDER,
        R_ELBOW,
        Region::Arm {
            right: true,
            lower: false,
        },
    ),
    (
        R_ELBOW,
        R_WRIST,
        Region::Arm {
            right: true,
            lower: true,
        },
    ),
    (
        L_SHOULDER,
        L_ELBOW,
        Region::Arm {
            right: false,
            lower: false,
        },
    ),
    (
        L_ELBOW,
        L_WRIST,
        Region::Arm {
            right: false,
            lower: true,
        },
    ),
    (
        R_HIP,
        R_KNEE,
        Region::Leg {
            right: true,
            lower: false,
        },
    ),
    (
        R_KNEE,
        R_ANKLE,
        Region::Leg {
            right: true,
            lower: true,
        },
    ),
    (
        L_HIP,
        L_KNEE,
        Region::Leg {
            right: false,
            lower: false,
        },
    ),
    (
        L_KNEE,
        L_ANKLE,
        Region::Leg {
            right: false,
            lower: true,
        },
    ),
];

/// Per pixel of an `height × width` frame (row-major), whether it lies within one of the arms'
/// parts of the figure `pose` (upper arms, forearms and the hands' reach, each within its
/// radius): where an arm may hide the body behind it.
pub fn arm_cover(pose: &Pose, height: usize, width: usize, cfg: &PuppetConfig) -> Vec<bool> {
    let mut out = vec![false; height * width];
    if height == 0 || width == 0 {
        return out;
    }
    let rig = build(pose, pose, height, width, cfg);
    for part in rig
        .parts
        .iter()
        .filter(|p| matches!(p.region, Region::Arm { .. }))
    {
        let Bounds([x0, y0, x1, y1]) = part.box_s.grown(part.radius_s);
        let clamp = |v: f64, n: usize| v.clamp(0.0, n.saturating_sub(1) as f64) as usize;
        for y in clamp(y0.floor(), height)..=clamp(y1.ceil(), height) {
            for x in clamp(x0.floor(), width)..=clamp(x1.ceil(), width) {
                if part.shape_s.distance([x as f64, y as f64]) <= part.radius_s {
                    out[y * width + x] = true;
                }
            }
        }
    }
    out
}

/// For each part, the index of its mirror image (the same bone of the body's other side), if
/// that part exists.
pub(crate) fn mirror_twins(parts: &[Part]) -> Vec<Option<usize>> {
    let key = |joints: &[usize]| {
        let mut v = joints.to_vec();
        v.sort_unstable();
        v
    };
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mirrored: Vec<usize> = p.joints.iter().map(|&j| mirror_index(j)).collect();
            let want = key(&mirrored);
            (want != key(&p.joints))
                .then(|| parts.iter().position(|q| key(&q.joints) == want))
                .flatten()
                .filter(|&k| k != i)
        })
        .collect()
}

/// Per part, the hand or foot part of its own beyond its far joint (same region, that joint
/// alone), if the rig has one: a foot keeps its angle while its shin turns ([`FOOT_TURN`]), so
/// the shoe the shin's front labelled in the source is where the foot's map puts it.
pub(crate) fn extremities_of(parts: &[Part]) -> Vec<Option<usize>> {
    parts
        .iter()
        .map(|p| match p.joints[..] {
            [_, b] => parts
                .iter()
                .position(|q| q.region == p.region && q.joints[..] == [b]),
            _ => None,
        })
        .collect()
}

/// Everything the per-pixel pass needs.
#[derive(Clone, Debug)]
pub(crate) struct Rig {
    pub parts: Vec<Part>,
    pub scale_t: f64,
    pub scale_s: f64,
    /// Source joint positions (for the attachment exemption of the occlusion test).
    pub joints_s: [Option<P>; NUM_JOINTS],
    /// [`Rig::far_radii`] for the settings the rig was built with.
    pub far: f64,
}

/// `a` brought into (−π, π].
fn wrapped(a: f64) -> f64 {
    let t = std::f64::consts::TAU;
    let r = a.rem_euclid(t);
    if r > std::f64::consts::PI {
        r - t
    } else {
        r
    }
}

fn angle(d: P) -> f64 {
    d[1].atan2(d[0])
}

/// The pose keeping only the joints `keep` marks.
fn restrict(pose: &Pose, keep: &[bool; NUM_JOINTS]) -> Pose {
    let mut out = pose.clone();
    for (j, joint) in out.joints.iter_mut().enumerate() {
        if !keep[j] {
            *joint = None;
        }
    }
    out
}

/// The body scale of a pose in pixels, nominally the torso length: neck → mid-hip; else 1.3 ×
/// the shoulder width; else 1.6 × the mean length of the present limbs of [`LIMBS`]; else
/// 0.3 × the smaller frame side. Never below 2 px.
pub(crate) fn body_scale(pose: &Pose, height: usize, width: usize) -> f64 {
    let scale = if let Some(down) = neck_to_hips(pose) {
        norm(down)
    } else if let (Some(r), Some(l)) = (xy(pose, R_SHOULDER), xy(pose, L_SHOULDER)) {
        1.3 * norm(sub(r, l))
    } else {
        let lengths: Vec<f64> = LIMBS
            .iter()
            .filter_map(|&(a, b)| Some(norm(sub(xy(pose, a)?, xy(pose, b)?))))
            .collect();
        if lengths.is_empty() {
            0.3 * height.min(width) as f64
        } else {
            1.6 * lengths.iter().sum::<f64>() / lengths.len() as f64
        }
    };
    scale.max(2.0)
}

/// How far a skeleton's face is turned sideways (`amount`, 0 = frontal or unknown, 1 = profile)
/// and to which side of the image (`side`: −1 left, +1 right), from the nose against the neck.
struct FootTurn {
    amount: f64,
    side: f64,
}

fn foot_turn(pose: &Pose, scale: f64) -> FootTurn {
    match (xy(pose, NOSE), xy(pose, NECK)) {
        (Some(nose), Some(neck)) => {
            let off = (nose[0] - neck[0]) / scale;
            FootTurn {
                amount: super::geometry::smoothstep(0.1, 0.3, off.abs()),
                side: off.signum(),
            }
        }
        _ => FootTurn {
            amount: 0.0,
            side: 1.0,
        },
    }
}

/// Whether the body turned between the poses: the face looks another way (by more than
/// [`FACING_CHANGE`] in profile, or in profile to the other side) and the shoulders' width
/// (`ws`, `wt`, over the body's scale) agrees: narrower by a fifth towards profile, wider by a
/// quarter from it; from one profile to the other, narrow in both. A face turned alone (a
/// user's "look left") leaves the body, and the feet, where they were.
fn body_turned(s: &head::Facing, t: &head::Facing, ws: f64, wt: f64) -> bool {
    if (s.amount - t.amount).abs() > FACING_CHANGE {
        return if t.amount > s.amount {
            wt < 0.8 * ws
        } else {
            wt > 1.25 * ws
        };
    }
    let other_side = dot(s.towards, t.towards) < 0.0 && s.amount.min(t.amount) > 0.5;
    other_side && ws.max(wt) < PROFILE_SHOULDERS
}

/// Shoulders narrower than this (over the body's scale) are seen from the side.
const PROFILE_SHOULDERS: f64 = 0.4;

/// The distance between the shoulders of `pose` over `scale`, if it has both.
fn shoulder_width(pose: &Pose, scale: f64) -> Option<f64> {
    Some(norm(sub(xy(pose, R_SHOULDER)?, xy(pose, L_SHOULDER)?)) / scale)
}

/// See [`body_turned`]: |sin yaw| changes by this much (a turn of 20° from the camera to
/// 45°, of 35° to profile).
const FACING_CHANGE: f64 = 0.35;

/// The toe of a foot at `ankle` on a body facing `facing`, `down` its neck-to-hips direction
/// (unit), `length` the foot's: flat on the ground, so in the image it points where the face
/// does, across the body, as far as the face is turned, and down a little as far as it is not
/// (the foot towards the camera, foreshortened).
fn turned_foot(ankle: P, facing: head::Facing, down: P, length: f64) -> P {
    let (a, t) = (facing.amount, facing.towards);
    // The across direction square to the body, on the side the face looks to.
    let across = [-down[1], down[0]];
    let across = if dot(across, t) < 0.0 {
        [-across[0], -across[1]]
    } else {
        across
    };
    let v = [
        a * across[0] + FORESHORTENED * (1.0 - a) * down[0],
        a * across[1] + FORESHORTENED * (1.0 - a) * down[1],
    ];
    [ankle[0] + length * v[0], ankle[1] + length * v[1]]
}

/// How long (over its length) a foot pointing at the camera looks, down from its ankle.
const FORESHORTENED: f64 = 0.3;

/// The unit direction from the neck to the hips' centre of `pose`, if it has both.
fn body_down(pose: &Pose) -> Option<P> {
    let d = neck_to_hips(pose)?;
    let l = norm(d);
    (l > 1e-6).then(|| [d[0] / l, d[1] / l])
}

/// How much of its shin's turn a foot takes: none (it keeps its angle, as a foot on the
/// ground does while the leg above it swings: in `eval`'s synthetic people always, in a
/// jumping jack's frames mostly).
const FOOT_TURN: f64 = 0.0;

/// How much more of the torso joints' spread a mirror must explain than a rotation for the
/// torso to count as turned round ([`similarity_or_mirror`]); a profile's torso is near a line
/// and either fits it.
const TURN_ROUND_MARGIN: f64 = 0.2;

const TORSO: [usize; 5] = [NECK, R_SHOULDER, L_SHOULDER, R_HIP, L_HIP];
const FACE: [usize; 5] = [NOSE, R_EYE, L_EYE, R_EAR, L_EAR];

/// Where the skull's centre lies from the face keypoints' centroid of `pose` (the offset
/// square to the face, onto its centre `line`) and that centroid.
fn skull_offset(pose: &Pose, line: &head::CentreLine) -> (P, P) {
    let pts: Vec<P> = FACE.iter().filter_map(|&j| xy(pose, j)).collect();
    let face = centroid(&pts);
    let d = line.centre - dot(face, line.across);
    (face, [d * line.across[0], d * line.across[1]])
}

/// The head's map as a similarity (target → source) through the neck (`neck_s`, `neck_t`) and
/// the skull's centre ([`head::skull_centre`] of each pose), at the body's scale `ratio`:
/// turned as the neck-to-skull line turns; `None` without a neck. The face keypoints' own fit
/// turned the head with whichever keypoints the two poses shared, and a face that turned away
/// between them (the back of the head in the target, an ear and the nose in common) tipped the
/// head over by up to 90° in `eval`'s pairs. A head that shows its face in one pose and its
/// back in the other (the face's left side on the other side of the neck-to-skull line): where
/// the target shows the back, [`crown_map`] (the face must not come round onto the back of the
/// head) and the target's skull as the reach it owns ([`Part::within_t`]); where the target
/// shows the face, the similarity's mirror image, a fold the ownership does not take (no face
/// to show: hidden person, filled).
fn skull_map(
    (c_s, line_s): (P, head::CentreLine),
    (c_t, line_t): (P, head::CentreLine),
    neck_s: Option<P>,
    neck_t: Option<P>,
    ratio: f64,
    scale_s: f64,
) -> Option<(Affine, Option<Reach>)> {
    let (u, v) = (sub(c_s, neck_s?), sub(c_t, neck_t?));
    let (lu, lv) = (norm(u), norm(v));
    if lu < 1e-6 || lv < 1e-6 {
        return None;
    }
    // Which side of the neck-to-skull line the face's left is on.
    let side = |up: P, across: P| (up[0] * across[1] - up[1] * across[0]).signum();
    let turned_round =
        line_s.handed && line_t.handed && side(u, line_s.across) != side(v, line_t.across);
    let (eu, ev) = ([u[0] / lu, u[1] / lu], [v[0] / lv, v[1] / lv]);
    // The back of the head in the target (its face turned further from the camera than the
    // source's): the crown. The face in the target and the back in the source: no face to
    // show, the mirror image, a fold nothing owns (filled as hidden person).
    if turned_round && line_t.yaw.cos() < line_s.yaw.cos() {
        let radius_s = head::radius(scale_s);
        // The skull, and towards the neck no wider than it.
        let r_t = CROWN_REACH * radius_s / ratio;
        let disc = (c_t, r_t, ev);
        return Some((crown_map((c_s, eu), (c_t, ev), ratio, radius_s), Some(disc)));
    }
    // Onto the target's neck-to-skull line, mirrored about it when turned round, onto the
    // source's: ratio · R(θu) · diag(1, ±1) · R(−θv).
    let across = if turned_round { -ratio } else { ratio };
    let xf = Affine::through(frame_to_frame(eu, ev, [ratio, across]), c_t, c_s);
    Some((xf, None))
}

/// `R(θu) · diag(k) · R(−θv)` for unit vectors `eu`, `ev` at angles θu, θv: the frame of `ev`
/// (along it, then across) onto that of `eu`, scaled by `k` along and across.
fn frame_to_frame(eu: P, ev: P, k: [f64; 2]) -> [[f64; 2]; 2] {
    let (ru, rv) = (
        [[eu[0], -eu[1]], [eu[1], eu[0]]],
        [[ev[0], ev[1]], [-ev[1], ev[0]]],
    );
    [0, 1].map(|i| [0, 1].map(|j| ru[i][0] * k[0] * rv[0][j] + ru[i][1] * k[1] * rv[1][j]))
}

/// Where the back of a head turned round samples: the source's crown, [`CROWN_AT`] of the
/// skull's radius `radius_s` above its centre `c_s` (along `eu`, from the neck), squeezed onto
/// it ([`CROWN_SQUEEZE`]). The back of a head is hair (or scalp) like the top of it, which a
/// face seen from the front shows above the forehead; the fold the head's map was before
/// (its mirror image, not owned) gave a skin-coloured disc of membrane with no hair on it.
fn crown_map((c_s, eu): (P, P), (c_t, ev): (P, P), ratio: f64, radius_s: f64) -> Affine {
    let k = CROWN_SQUEEZE.map(|k| k * ratio);
    let crown = [
        c_s[0] + CROWN_AT * radius_s * eu[0],
        c_s[1] + CROWN_AT * radius_s * eu[1],
    ];
    Affine::through(frame_to_frame(eu, ev, k), c_t, crown)
}

/// How far above the skull's centre (over its radius) the crown is sampled: well above the
/// forehead of a face seen from the front (the eyes are level with the centre). At 0.8 the
/// synthetic people's heads (rounder than the radius says) showed forehead on the lower half of
/// the back of the head.
const CROWN_AT: f64 = 0.95;

/// The crown map's scale along the neck-to-skull line and across it: the whole back of the
/// head (and the nape below it) from a thin band of the crown, its middle across: the hair's
/// colours and its grain along the head, not the forehead's. The band's texture is stretched
/// about twentyfold along the head; hair there runs that way.
const CROWN_SQUEEZE: [f64; 2] = [0.05, 0.3];

/// The disc a head turned round owns, over its skull's radius (hair stands a little off the
/// skull).
const CROWN_REACH: f64 = 1.15;

/// Without a neck: the head's map `xf` (target → source) moved so that the target's skull
/// centre lands on the source's ([`skull_offset`]): the keypoints' fit places the face, and a
/// face that turned between the two poses carried the skull across with it. Where the face
/// keeps its layout (an edit that moves or turns the head whole) the fit already maps one
/// centre onto the other and nothing changes.
fn on_the_skull(mut xf: Affine, skull_s: (P, P), skull_t: (P, P)) -> Affine {
    let at = |(face, off): (P, P)| [face[0] + off[0], face[1] + off[1]];
    let (to, from) = (at(skull_s), xf.apply(at(skull_t)));
    xf.t = [xf.t[0] + to[0] - from[0], xf.t[1] + to[1] - from[1]];
    xf
}

/// Builds the rig for `source` → `target`. Only joints present in both poses are used.
pub(crate) fn build(
    source: &Pose,
    target: &Pose,
    height: usize,
    width: usize,
    cfg: &PuppetConfig,
) -> Rig {
    let mut common = [false; NUM_JOINTS];
    for (j, c) in common.iter_mut().enumerate() {
        *c = source.get(j).is_some() && target.get(j).is_some();
    }
    let (src, tgt) = (restrict(source, &common), restrict(target, &common));
    let scale_s = body_scale(&src, height, width);
    let scale_t = body_scale(&tgt, height, width);
    let ratio = scale_s / scale_t;
    // Depth order from the full skeletons (more evidence than the common joints).
    let (o_s, o_t) = (orientation(source, scale_s), orientation(target, scale_t));

    let pts =
        |pose: &Pose, js: &[usize]| -> Vec<P> { js.iter().filter_map(|&j| xy(pose, j)).collect() };
    let all: Vec<usize> = (0..NUM_JOINTS).filter(|&j| common[j]).collect();
    // The whole body's similarity: the fallback rotation/scale of parts with a single point.
    let global = similarity_linear(&pts(&tgt, &all), &pts(&src, &all))
        .unwrap_or([[ratio, 0.0], [0.0, ratio]]);

    // How far the body turns from source to target in the image (its torso's similarity, else
    // the whole skeleton's): the feet keep their angle to it.
    let body = similarity_linear(&pts(&tgt, &TORSO), &pts(&src, &TORSO)).unwrap_or(global);
    let body_turn = -body[1][0].atan2(body[0][0]);

    let mut parts = Vec::new();
    let mut push = |joints: Vec<usize>,
                    shape_t: Shape,
                    shape_s: Shape,
                    core_t: Shape,
                    rel: f64,
                    region: Region,
                    xf: Affine| {
        parts.push(Part {
            joints,
            box_t: shape_t.bounds(),
            box_s: shape_s.bounds(),
            shape_t,
            shape_s,
            core_t,
            radius_t: rel * scale_t,
            radius_s: rel * scale_s,
            depth_t: cfg.order.depth(region, &o_t),
            depth_s: depth(region, &o_s),
            xf,
            region,
            within_t: None,
        })
    };

    // The skulls' centres and centre lines, once per pose: the head's map and shape, and which
    // way the face looks (the feet's direction when it turns between the poses).
    let (skull_s, skull_t) = (
        head::skull_centre(source, scale_s),
        head::skull_centre(target, scale_t),
    );
    // The target's facing and its body's axis down, where the body turned: its feet turn.
    let feet_turn = skull_s
        .zip(skull_t)
        .map(|((_, ls), (_, lt))| (ls.facing(), lt.facing()))
        .filter(|(fs, ft)| {
            let widths = shoulder_width(&src, scale_s).zip(shoulder_width(&tgt, scale_t));
            widths.is_some_and(|(ws, wt)| body_turned(fs, ft, ws, wt))
        })
        .map(|(_, ft)| (ft, body_down(&tgt).unwrap_or([0.0, 1.0])));

    let mut head_disc = None;
    // Torso and head: regularised affine fits of their joints (the head's fit includes the neck
    // as an anchor, its shape only the face joints).
    let regions: [(&[usize], &[usize], f64, Region); 2] = [
        (&TORSO, &TORSO, cfg.torso_radius, Region::Torso),
        (
            &[NOSE, R_EYE, L_EYE, R_EAR, L_EAR, NECK],
            &FACE,
            cfg.head_radius,
            Region::Head,
        ),
    ];
    for (fit_joints, shape_joints, rel, region) in regions {
        let joints: Vec<usize> = fit_joints.iter().copied().filter(|&j| common[j]).collect();
        let shape_js: Vec<usize> = shape_joints
            .iter()
            .copied()
            .filter(|&j| common[j])
            .collect();
        if shape_js.is_empty() {
            continue;
        }
        let (pt, ps) = (pts(&tgt, &joints), pts(&src, &joints));
        // The torso's prior mirrors where the shoulders and hips swapped sides (a figure
        // turned round): pulled towards a rotation, its fit mirrored at half the width.
        let prior = match region {
            Region::Torso => similarity_or_mirror(&pt, &ps, TURN_ROUND_MARGIN),
            _ => similarity_linear(&pt, &ps),
        }
        .unwrap_or(global);
        // The head's area is held to the body's scale, not to its own joints': the eyes' and
        // ears' spacing changes as a face turns (and a driver's frontal face retargeted onto a
        // three-quarter one), which scaled the head by a fifth in a jumping jack.
        let area_ref = match region {
            Region::Head => [[ratio, 0.0], [0.0, ratio]],
            _ => prior,
        };
        let xf = area_limited(
            regularised_affine(
                &pt,
                &ps,
                prior,
                cfg.affine_regularization * scale_t * scale_t,
            ),
            area_ref,
            centroid(&pt),
            cfg.max_area_change,
        );
        // A head's map and shape follow its skull, not its face (`head`): the similarity
        // through the neck and the skull, or without a neck the fit moved onto the skull.
        let skulls = match region {
            Region::Head => skull_s.zip(skull_t),
            _ => None,
        };
        let offsets =
            skulls.map(|((_, ls), (_, lt))| (skull_offset(source, &ls), skull_offset(target, &lt)));
        let (xf, disc) = match (skulls, offsets) {
            (Some((s, t)), Some((off_s, off_t))) => {
                skull_map(s, t, xy(source, NECK), xy(target, NECK), ratio, scale_s)
                    .unwrap_or_else(|| (on_the_skull(xf, off_s, off_t), None))
            }
            _ => (xf, None),
        };
        head_disc = head_disc.or(disc);
        let shifted = |pose: &Pose, off: Option<P>| -> Vec<P> {
            let o = off.unwrap_or([0.0, 0.0]);
            pts(pose, &shape_js)
                .into_iter()
                .map(|p| [p[0] + o[0], p[1] + o[1]])
                .collect()
        };
        let (st, ss) = (
            Shape::hull(&shifted(&tgt, offsets.map(|(_, t)| t.1))),
            Shape::hull(&shifted(&src, offsets.map(|(s, _)| s.1))),
        );
        push(joints, st.clone(), ss, st, rel, region, xf);
    }

    // Limbs: bone maps along each arm / leg segment.
    // Which way the feet point, from the source's face (once for both feet).
    let turn = foot_turn(source, scale_s);
    for (a, b, region) in LIMB_BONES {
        let rel = cfg.radius(region);
        debug_assert!(LIMBS.contains(&(a, b)));
        let (Some(at), Some(bt), Some(as_), Some(bs)) =
            (xy(&tgt, a), xy(&tgt, b), xy(&src, a), xy(&src, b))
        else {
            continue;
        };
        let Some(xf) = Affine::bone(at, bt, as_, bs, ratio) else {
            continue;
        };
        // As thick as the photo's limb where its matte showed it.
        let rel = rel * cfg.extremities.as_ref().map_or(1.0, |x| x.girth(region));
        // A hand turns with its forearm; a foot with the body, and by FOOT_TURN of the rest of
        // its shin's turn; both scale with the body.
        let is_foot = matches!(region, Region::Leg { lower: true, .. });
        let shin_turn = angle(sub(bt, at)) - angle(sub(bs, as_));
        let turn_by = if is_foot {
            // Relative to the body: a figure turned whole turns its feet with it.
            let d = wrapped(shin_turn - body_turn);
            body_turn + FOOT_TURN * d
        } else {
            shin_turn
        };
        let (c, s) = (turn_by.cos() / ratio, turn_by.sin() / ratio);
        // Source offset from the joint → target offset.
        let to_target = |v: P| [c * v[0] - s * v[1], s * v[0] + c * v[1]];
        let extremity_xf = if is_foot {
            let (c, s) = (turn_by.cos() * ratio, turn_by.sin() * ratio);
            Affine::through([[c, s], [-s, c]], bt, bs)
        } else {
            xf
        };
        // Where the photo's matte showed the hand or foot, its measured axis, turned so.
        let measured = cfg.extremities.as_ref().and_then(|x| x.tip(b)).map(|v| {
            let v_t = to_target(v);
            (
                [bt[0] + v_t[0], bt[1] + v_t[1]],
                [bs[0] + v[0], bs[1] + v[1]],
            )
        });
        // A face that turned between the poses (front to profile, one profile to the other)
        // turns the body with it, and a foot points where the body faces: its target is the
        // foot of the target's facing (`turned_foot`), its source the measured foot or the
        // guess below, its map the bone between them.
        let turned = match (is_foot, feet_turn) {
            (true, Some((facing, down))) => {
                Some(turned_foot(bt, facing, down, cfg.foot_length * scale_t))
            }
            _ => None,
        };
        // The extremity's map: rigid (above), or the bone onto its new direction when turned.
        let extremity_map = |tip_t: P, tip_s: P| match turned {
            Some(_) => Affine::bone(bt, tip_t, bs, tip_s, ratio).unwrap_or(extremity_xf),
            None => extremity_xf,
        };
        let measured = match (turned, measured) {
            (Some(toe_t), Some((_, tip_s))) => Some((toe_t, tip_s)),
            _ => measured,
        };
        // The hand is the forearm's: its shape reaches past the wrist (the map already does),
        // along the forearm unless the matte showed where it points.
        let reach = match (region, measured) {
            (Region::Arm { lower: true, .. }, None) => cfg.hand_extension,
            _ => 0.0,
        };
        let extend = |p: P, q: P| [q[0] + reach * (q[0] - p[0]), q[1] + reach * (q[1] - p[1])];
        push(
            vec![a, b],
            Shape::Segment(at, extend(at, bt)),
            Shape::Segment(as_, extend(as_, bs)),
            Shape::Segment(at, bt),
            rel,
            region,
            xf,
        );
        let lower = matches!(
            region,
            Region::Arm { lower: true, .. } | Region::Leg { lower: true, .. }
        );
        if let (true, Some((tip_t, tip_s))) = (lower, measured) {
            // The measured hand or foot: a part of its own past the joint, moving rigidly
            // (a hand with the bone, a foot as above) or, turned, stretched onto its new
            // direction.
            let xf = extremity_map(tip_t, tip_s);
            push(
                vec![b],
                Shape::Segment(bt, tip_t),
                Shape::Segment(bs, tip_s),
                Shape::Point(bt),
                0.8 * rel,
                region,
                xf,
            );
        } else if let Region::Leg { lower: true, .. } = region {
            // The foot: a part of its own beyond the ankle, moving rigidly with the ankle.
            // The toes' side is chosen in the source (towards where the face looks) and kept
            // in the target, turned as above.
            let normal = |knee: P, ankle: P| {
                let d = sub(ankle, knee);
                let len = norm(d).max(1e-9);
                let e = [d[0] / len, d[1] / len];
                (e, [-e[1], e[0]])
            };
            let sigma = if normal(as_, bs).1[0] * turn.side < 0.0 {
                -1.0
            } else {
                1.0
            };
            let toe = |knee: P, ankle: P, scale: f64| {
                let (e, n) = normal(knee, ankle);
                let t = turn.amount;
                let dir = [
                    (1.0 - t) * e[0] + t * (sigma * n[0] + 0.3 * e[0]),
                    (1.0 - t) * e[1] + t * (sigma * n[1] + 0.3 * e[1]),
                ];
                let l = cfg.foot_length * scale * (0.5 + 0.5 * t) / norm(dir).max(1e-9);
                [ankle[0] + l * dir[0], ankle[1] + l * dir[1]]
            };
            let toe_s = toe(as_, bs, scale_s);
            let v_t = to_target(sub(toe_s, bs));
            let toe_t = turned.unwrap_or([bt[0] + v_t[0], bt[1] + v_t[1]]);
            let xf = extremity_map(toe_t, toe_s);
            push(
                vec![b],
                Shape::Segment(bt, toe_t),
                Shape::Segment(bs, toe_s),
                Shape::Point(bt),
                0.8 * rel,
                region,
                xf,
            );
        }
    }

    if let Some(head) = parts.iter_mut().find(|p| p.region == Region::Head) {
        head.within_t = head_disc;
    }
    let mut joints_s = [None; NUM_JOINTS];
    for (j, slot) in joints_s.iter_mut().enumerate() {
        *slot = xy(&src, j);
    }
    let mut rig = Rig {
        parts,
        scale_t,
        scale_s,
        joints_s,
        far: f64::INFINITY,
    };
    rig.far = rig.far_radii(cfg);
    rig
}
