//! The figure's geometry in one pose: every part as a capsule or a body of revolution with an
//! invertible map between image positions and surface coordinates, the per-pose depth order
//! and the COCO-18 keypoints.

use super::figure::{part, Person};
use super::pose_sampler::Articulation;
use super::util::V2;
use super::SynthConfig;
use crate::pose::skeleton::*;
use crate::pose::{Joint, Pose};

/// Cross-section of a body of revolution, in pixels: half-width `s` (across the body, along the
/// person's left–right axis) and half-depth `d` (front–back) as functions of the height `u`.
#[derive(Clone, Copy, Debug)]
pub enum Profile {
    /// Linear from (s0, d0) at the top to (s1, d1) at the bottom (the torso).
    Linear { s0: f32, d0: f32, s1: f32, d1: f32 },
    /// A sphere-like ellipsoid of horizontal radius `r` (the head); `u` runs over its height.
    Ellipse { r: f32 },
}

impl Profile {
    fn at(&self, u: f32) -> (f32, f32) {
        match *self {
            Profile::Linear { s0, d0, s1, d1 } => (s0 + (s1 - s0) * u, d0 + (d1 - d0) * u),
            Profile::Ellipse { r } => {
                let t = 2.0 * u - 1.0;
                let s = r * (1.0 - t * t).max(0.0).sqrt();
                (s, s)
            }
        }
    }
}

/// One part in one pose.
#[derive(Clone, Debug)]
pub enum Geom {
    /// A tapered capsule from `a` (radius `ra`) along unit `t` for `len` pixels (radius `rb` at
    /// the end). Surface coordinates: (along / len, across / ra) with `across` along `n`.
    Capsule {
        a: V2,
        t: V2,
        n: V2,
        len: f32,
        ra: f32,
        rb: f32,
    },
    /// An elliptic body of revolution around the axis from `o` along unit `axis` for `len`
    /// pixels, turned by `yaw` about that axis; `n` is the image direction of increasing
    /// projected offset. Surface coordinates: (height in [0, 1], body-frame angle φ).
    Revolve {
        o: V2,
        axis: V2,
        n: V2,
        len: f32,
        prof: Profile,
        yaw: f32,
    },
}

impl Geom {
    fn capsule(a: V2, b: V2, ra: f32, rb: f32) -> Self {
        let d = b - a;
        let len = d.len().max(1e-3);
        let t = if d.len() > 1e-6 {
            d * (1.0 / d.len())
        } else {
            V2::new(0.0, 1.0)
        };
        Geom::Capsule {
            a,
            t,
            n: t.right(),
            len,
            ra,
            rb,
        }
    }

    /// Pixel bounding box (x0, y0, x1, y1).
    pub fn bbox(&self) -> (f32, f32, f32, f32) {
        let mut pts = [V2::default(); 4];
        let r;
        match *self {
            Geom::Capsule {
                a, t, len, ra, rb, ..
            } => {
                pts = [a, a + t * len, a, a];
                r = ra.max(rb);
            }
            Geom::Revolve {
                o, axis, len, prof, ..
            } => {
                let (s0, d0) = prof.at(0.0);
                let (s1, d1) = prof.at(1.0);
                let (sm, dm) = prof.at(0.5);
                r = s0.max(d0).max(s1).max(d1).max(sm).max(dm);
                pts[0] = o;
                pts[1] = o + axis * len;
                pts[2] = o;
                pts[3] = o;
            }
        }
        let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
        for p in pts {
            x0 = x0.min(p.x);
            y0 = y0.min(p.y);
            x1 = x1.max(p.x);
            y1 = y1.max(p.y);
        }
        (x0 - r, y0 - r, x1 + r, y1 + r)
    }

    /// Whether image point `q` is covered; returns the raw local coordinates if so (the
    /// surface coordinates for capsules; (height, projected offset) for revolves — convert
    /// with [`Geom::surface`]).
    #[inline]
    pub fn hit(&self, q: V2) -> Option<(f32, f32)> {
        match *self {
            Geom::Capsule {
                a,
                t,
                n,
                len,
                ra,
                rb,
            } => {
                let p = q - a;
                let (al, ac) = (p.dot(t), p.dot(n));
                let u = al / len;
                let inside = if u < 0.0 {
                    al * al + ac * ac <= ra * ra
                } else if u > 1.0 {
                    let e = al - len;
                    e * e + ac * ac <= rb * rb
                } else {
                    ac.abs() <= ra + (rb - ra) * u
                };
                inside.then_some((u, ac / ra))
            }
            Geom::Revolve {
                o,
                axis,
                n,
                len,
                prof,
                yaw,
            } => {
                let p = q - o;
                let u = p.dot(axis) / len;
                if !(0.0..=1.0).contains(&u) {
                    return None;
                }
                let x = p.dot(n);
                let (s, d) = prof.at(u);
                let (sn, c) = yaw.sin_cos();
                let r2 = s * s * c * c + d * d * sn * sn;
                (x * x <= r2).then_some((u, x))
            }
        }
    }

    /// Surface coordinates from [`Geom::hit`]'s raw coordinates.
    pub fn surface(&self, raw: (f32, f32)) -> (f32, f32) {
        match *self {
            Geom::Capsule { .. } => raw,
            Geom::Revolve { prof, yaw, .. } => {
                let (u, x) = raw;
                let (s, d) = prof.at(u);
                let (s, d) = (s.max(1e-6), d.max(1e-6));
                let (sn, c) = yaw.sin_cos();
                let r = (s * s * c * c + d * d * sn * sn).sqrt().max(1e-9);
                let delta = (d * sn).atan2(s * c);
                let psi = (x / r).clamp(-1.0, 1.0).asin();
                let facing = |phi: f32| phi.sin() / s * sn + phi.cos() / d * c;
                let (p1, p2) = (delta + psi, delta + std::f32::consts::PI - psi);
                let phi = if facing(p1) >= facing(p2) { p1 } else { p2 };
                let (ps, pc) = phi.sin_cos();
                (u, ps.atan2(pc))
            }
        }
    }

    /// Image position of surface point (a, b) in this pose, and whether it faces the camera
    /// (always true for capsules, which are flat).
    pub fn place(&self, a: f32, b: f32) -> (V2, bool) {
        match *self {
            Geom::Capsule {
                a: o,
                t,
                n,
                len,
                ra,
                ..
            } => (o + t * (a * len) + n * (b * ra), true),
            Geom::Revolve {
                o,
                axis,
                n,
                len,
                prof,
                yaw,
            } => {
                let (s, d) = prof.at(a);
                let (sn, c) = yaw.sin_cos();
                let (ps, pc) = b.sin_cos();
                let x = s * ps * c - d * pc * sn;
                let facing = ps / s.max(1e-6) * sn + pc / d.max(1e-6) * c;
                (o + axis * (a * len) + n * x, facing > 0.0)
            }
        }
    }
}

/// The whole figure in one pose.
#[derive(Clone, Debug)]
pub struct Figure {
    /// Indexed by the ids of [`part`].
    pub parts: Vec<Geom>,
    /// Larger = nearer the camera; all distinct.
    pub depth: Vec<f32>,
    /// Part ids from back to front.
    pub order: Vec<usize>,
    pub pose: Pose,
}

impl Figure {
    /// Whether surface point (a, b) of part `id` is seen in this pose: it faces the camera, its
    /// image position is covered by the part, and no nearer part covers that position. Returns
    /// the position too.
    pub fn visible(&self, id: usize, a: f32, b: f32) -> (V2, bool) {
        let (q, facing) = self.parts[id].place(a, b);
        if !facing || self.parts[id].hit(q).is_none() {
            return (q, false);
        }
        let dz = self.depth[id];
        let hidden = self
            .order
            .iter()
            .any(|&o| self.depth[o] > dz && self.parts[o].hit(q).is_some());
        (q, !hidden)
    }
}

fn sgnf(v: f32, fallback: f32) -> f32 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        fallback
    }
}

/// The keypoints of the right (`[0]`) and left (`[1]`) arm and leg, from the root outwards.
const ARM_JOINTS: [[usize; 3]; 2] = [
    [R_SHOULDER, R_ELBOW, R_WRIST],
    [L_SHOULDER, L_ELBOW, L_WRIST],
];
const LEG_JOINTS: [[usize; 3]; 2] = [[R_HIP, R_KNEE, R_ANKLE], [L_HIP, L_KNEE, L_ANKLE]];

/// Places a limb (an arm or a leg: `parts` and `joints` from its root outwards): its three
/// parts at depths `base`, `base + 0.001`, `base + 0.002`, so where two of them overlap at a
/// joint the order is fixed whatever the limb's base depth; then its three keypoints at `at`.
fn place_limb(
    depth: &mut [f32],
    put: &mut impl FnMut(usize, V2, bool),
    parts: [usize; 3],
    base: f32,
    joints: [usize; 3],
    at: [V2; 3],
) {
    depth[parts[0]] = base;
    depth[parts[1]] = base + 0.001;
    depth[parts[2]] = base + 0.002;
    for (j, p) in joints.into_iter().zip(at) {
        put(j, p, true);
    }
}

/// Lays out `person`'s parts in pose `art` on a `cfg` image.
pub fn build(person: &Person, art: &Articulation, cfg: &SynthConfig) -> Figure {
    let bd = &person.body;
    let (hgt, wid) = (cfg.height as f32, cfg.width as f32);
    let un = art.scale * hgt; // pixels per figure unit
    let (sn, c) = art.yaw.sin_cos();
    let down = V2::from_down(art.lean);
    let n = down.right();
    let box_top = art.center.1 * hgt - 0.5 * un;
    let pelvis = V2::new(art.center.0 * wid, box_top + bd.pelvis_depth() * un);
    let neck = pelvis - down * (bd.torso_len * un);
    let side_view = sn.abs() > 0.75;
    let forward = sgnf(-sn, 1.0); // image-x sign of the facing direction

    let mut parts: Vec<Geom> = vec![Geom::capsule(neck, neck, 1.0, 1.0); part::COUNT];
    let mut depth = vec![0f32; part::COUNT];
    let mut pose = Pose::missing();
    let mut put = |j: usize, p: V2, ok: bool| {
        if ok && p.x >= 0.0 && p.y >= 0.0 && p.x <= wid - 1.0 && p.y <= hgt - 1.0 {
            pose.set(j, Some(Joint::new(p.x, p.y, 1.0)));
        }
    };

    // Torso, neck, head.
    parts[part::TORSO] = Geom::Revolve {
        o: neck,
        axis: down,
        n,
        len: bd.torso_len * un,
        prof: Profile::Linear {
            s0: bd.shoulder_w * un,
            d0: bd.shoulder_d * un,
            s1: bd.hip_w * un,
            d1: bd.hip_d * un,
        },
        yaw: art.yaw,
    };
    let head_down = V2::from_down(art.lean + art.head_roll);
    parts[part::NECK] = Geom::capsule(
        neck + down * (0.5 * bd.neck_r * un),
        neck - head_down * ((bd.neck_len + 0.4 * bd.head_rh) * un),
        bd.neck_r * un,
        bd.neck_r * un,
    );
    let head_yaw = art.yaw + art.head_yaw;
    let head = Geom::Revolve {
        o: neck - head_down * ((bd.neck_len + 2.0 * bd.head_rh) * un),
        axis: head_down,
        n: head_down.right(),
        len: 2.0 * bd.head_rh * un,
        prof: Profile::Ellipse { r: bd.head_rw * un },
        yaw: head_yaw,
    };
    depth[part::TORSO] = 0.0;
    depth[part::HEAD] = 0.05;
    depth[part::NECK] = -0.02;
    put(NECK, neck, true);
    // Face keypoints: (joint, height, body angle, min cos of the angle to the view direction).
    for (j, u, phi, min_cos) in [
        (NOSE, 0.62, 0.0, -0.2),
        (R_EYE, 0.52, -0.42, 0.1),
        (L_EYE, 0.52, 0.42, 0.1),
        (R_EAR, 0.5, -std::f32::consts::FRAC_PI_2, -0.35),
        (L_EAR, 0.5, std::f32::consts::FRAC_PI_2, -0.35),
    ] {
        let (p, _) = head.place(u, phi);
        put(j, p, (phi - head_yaw).cos() > min_cos);
    }
    parts[part::HEAD] = head;

    // Arms.
    for k in 0..2 {
        let sg = if k == 0 { -1.0 } else { 1.0 };
        let limb = &art.arms[k];
        let sh = neck + n * (sg * bd.shoulder_joint * c * un) + down * (0.2 * bd.arm_r[0] * un);
        let (gu, gf, fl) = if side_view {
            let gu = art.lean + forward * limb.raise;
            (gu, gu + forward * limb.bend, 1.0)
        } else {
            let o = sgnf(sg * c, sg);
            let gu = art.lean + o * limb.raise;
            let fl = 1.0 - 0.3 * (limb.bend / 2.6) * c.abs();
            (gu, gu - o * limb.bend_dir * limb.bend, fl)
        };
        let (du, df) = (V2::from_down(gu), V2::from_down(gf));
        let el = sh + du * (bd.upper_arm * limb.foreshorten[0] * un);
        let wr = el + df * (bd.lower_arm * limb.foreshorten[1] * fl * un);
        let hand_end = wr + df * (bd.hand_len * un);
        let r = bd.arm_r.map(|r| r * un);
        parts[part::UPPER_ARM[k]] = Geom::capsule(sh, el, r[0], r[1]);
        parts[part::LOWER_ARM[k]] = Geom::capsule(el, wr, r[1], r[2]);
        parts[part::HAND[k]] = Geom::capsule(wr, hand_end, bd.hand_r * un, 0.85 * bd.hand_r * un);
        let z = sg * sn;
        let base = if sn.abs() > 0.35 {
            if z > 0.0 {
                0.2
            } else {
                -0.2
            }
        } else if art.arm_in_front[k] {
            0.2
        } else {
            -0.2
        } + 0.01 * z;
        place_limb(
            &mut depth,
            &mut put,
            [part::UPPER_ARM[k], part::LOWER_ARM[k], part::HAND[k]],
            base,
            ARM_JOINTS[k],
            [sh, el, wr],
        );
    }

    // Legs.
    for k in 0..2 {
        let sg = if k == 0 { -1.0 } else { 1.0 };
        let limb = &art.legs[k];
        let hip = pelvis + n * (sg * bd.hip_joint * c * un);
        let (gt, gs, fl) = if side_view {
            let gt = 0.3 * art.lean + forward * limb.raise;
            (gt, gt - forward * limb.bend, 1.0)
        } else {
            let o = sgnf(sg * c, sg);
            let gt = 0.3 * art.lean + o * limb.raise;
            let fl = 1.0 - 0.3 * (limb.bend / 2.44) * c.abs();
            (gt, gt + o * limb.bend_dir * limb.bend * 0.35, fl)
        };
        let (dt, ds) = (V2::from_down(gt), V2::from_down(gs));
        let knee = hip + dt * (bd.thigh * limb.foreshorten[0] * fl * un);
        let ankle = knee + ds * (bd.shin * limb.foreshorten[1] * fl * un);
        let fx = -sn;
        let toe = ankle
            + V2::new(
                fx * bd.foot_len * 0.85,
                0.25 * bd.foot_r + (1.0 - fx.abs()) * 0.3 * bd.foot_len,
            ) * un;
        let r = bd.leg_r.map(|r| r * un);
        parts[part::UPPER_LEG[k]] = Geom::capsule(hip, knee, r[0], r[1]);
        parts[part::LOWER_LEG[k]] = Geom::capsule(knee, ankle, r[1], r[2]);
        parts[part::FOOT[k]] = Geom::capsule(ankle, toe, bd.foot_r * un, bd.foot_r * un);
        let front = (k == 1) == art.left_leg_front;
        let base = -0.3 + 0.05 * sg * sn + if front { 0.01 } else { -0.01 };
        place_limb(
            &mut depth,
            &mut put,
            [part::UPPER_LEG[k], part::LOWER_LEG[k], part::FOOT[k]],
            base,
            LEG_JOINTS[k],
            [hip, knee, ankle],
        );
    }

    for (i, z) in depth.iter_mut().enumerate() {
        *z += i as f32 * 1e-5;
    }
    let mut order: Vec<usize> = (0..part::COUNT).collect();
    order.sort_by(|&a, &b| depth[a].total_cmp(&depth[b]));
    Figure {
        parts,
        depth,
        order,
        pose,
    }
}
