//! The identity of a synthetic person: body proportions, skin and hair, clothing, textures and
//! the background, plus the colour of every surface point as a function of (part, a, b).
//!
//! Surface coordinates per part (see `geometry.rs`): limbs, neck, hands and feet are capsules
//! with `a` = position along the bone (0 at the first joint, 1 at the second) and `b` = signed
//! distance across the bone in units of its start radius; head and torso are bodies of
//! revolution with `a` = height (0 top, 1 bottom) and `b` = the body-frame angle around the
//! vertical axis (0 = front centre, +π/2 = the person's left side).

use super::texture::{Background, Print, Texture};
use super::util::{coin, fbm, mix, pick, rf, scale, weighted, Rgb};
use super::SynthConfig;
use crate::util::rng::SplitMix64;

/// Part ids (fixed, so the same id names the same surface in both poses). Index pairs are
/// `[right, left]` (the person's own sides).
pub mod part {
    pub const HEAD: usize = 0;
    pub const NECK: usize = 1;
    pub const TORSO: usize = 2;
    pub const UPPER_ARM: [usize; 2] = [3, 4];
    pub const LOWER_ARM: [usize; 2] = [5, 6];
    pub const HAND: [usize; 2] = [7, 8];
    pub const UPPER_LEG: [usize; 2] = [9, 10];
    pub const LOWER_LEG: [usize; 2] = [11, 12];
    pub const FOOT: [usize; 2] = [13, 14];
    /// Number of parts.
    pub const COUNT: usize = 15;
}

/// Body proportions in figure units (the standing figure, head top to soles, is 1.0 tall).
/// Radii and half-widths are in the same units.
#[derive(Clone, Debug, PartialEq)]
pub struct Body {
    pub head_rh: f32,
    pub head_rw: f32,
    pub neck_len: f32,
    pub neck_r: f32,
    pub torso_len: f32,
    /// Torso half-width and half-depth at the shoulder line and at the hips.
    pub shoulder_w: f32,
    pub shoulder_d: f32,
    pub hip_w: f32,
    pub hip_d: f32,
    /// Half the distance between the shoulder joints / hip joints.
    pub shoulder_joint: f32,
    pub hip_joint: f32,
    pub upper_arm: f32,
    pub lower_arm: f32,
    pub hand_len: f32,
    /// Arm radii at shoulder, elbow, wrist; hand radius.
    pub arm_r: [f32; 3],
    pub hand_r: f32,
    pub thigh: f32,
    pub shin: f32,
    pub foot_len: f32,
    /// Leg radii at hip, knee, ankle; foot radius.
    pub leg_r: [f32; 3],
    pub foot_r: f32,
}

impl Body {
    pub fn sample(rng: &mut SplitMix64) -> Self {
        let build = rf(rng, 0.85, 1.18);
        let hips = rf(rng, 0.88, 1.2);
        let limbs = rf(rng, 0.95, 1.05);
        let head_rh = 0.065 * rf(rng, 0.92, 1.08);
        let shoulder_w = 0.105 * build * rf(rng, 0.93, 1.07);
        let hip_w = 0.085 * hips;
        let mut b = Body {
            head_rh,
            head_rw: head_rh * rf(rng, 0.72, 0.84),
            neck_len: 0.035 * rf(rng, 0.85, 1.15),
            neck_r: 0.022 * build,
            torso_len: 0.30 * rf(rng, 0.94, 1.06),
            shoulder_w,
            shoulder_d: 0.055 * build,
            hip_w,
            hip_d: 0.06 * hips,
            shoulder_joint: shoulder_w * 0.85,
            hip_joint: hip_w * 0.6,
            upper_arm: 0.175 * limbs,
            lower_arm: 0.15 * limbs,
            hand_len: 0.06,
            arm_r: [0.028 * build, 0.022 * build, 0.017 * build],
            hand_r: 0.019 * build.sqrt(),
            thigh: 0.245 * limbs,
            shin: 0.235 * limbs,
            foot_len: 0.075,
            leg_r: [0.047 * hips, 0.033 * build, 0.023 * build],
            foot_r: 0.021,
        };
        let total = b.standing_height();
        b.rescale(1.0 / total);
        b
    }

    /// Head top to soles when standing straight.
    pub fn standing_height(&self) -> f32 {
        2.0 * self.head_rh
            + self.neck_len
            + self.torso_len
            + self.thigh
            + self.shin
            + 1.3 * self.foot_r
    }

    /// Distance from the head top to the hip centre when standing straight.
    pub fn pelvis_depth(&self) -> f32 {
        2.0 * self.head_rh + self.neck_len + self.torso_len
    }

    fn rescale(&mut self, s: f32) {
        for v in [
            &mut self.head_rh,
            &mut self.head_rw,
            &mut self.neck_len,
            &mut self.neck_r,
            &mut self.torso_len,
            &mut self.shoulder_w,
            &mut self.shoulder_d,
            &mut self.hip_w,
            &mut self.hip_d,
            &mut self.shoulder_joint,
            &mut self.hip_joint,
            &mut self.upper_arm,
            &mut self.lower_arm,
            &mut self.hand_len,
            &mut self.hand_r,
            &mut self.thigh,
            &mut self.shin,
            &mut self.foot_len,
            &mut self.foot_r,
        ] {
            *v *= s;
        }
        for r in self.arm_r.iter_mut().chain(self.leg_r.iter_mut()) {
            *r *= s;
        }
    }
}

/// A person's identity: body, colours, clothes, textures and the (static) background.
#[derive(Clone, Debug, PartialEq)]
pub struct Person {
    pub body: Body,
    pub skin: Rgb,
    pub hair: Rgb,
    /// Height (0 = top of head, 1 = chin) where the forehead starts.
    pub hairline: f32,
    /// Cosine of the face's half-width angle: the face shows where cos(angle) > this.
    pub face_edge: f32,
    pub eyes: Rgb,
    pub shirt: Texture,
    /// 0 = sleeveless, 0.5 = short sleeves to the elbow, 1 = long sleeves to the wrist.
    pub sleeve: f32,
    /// Where the shirt ends on the torso (0 = shoulders, 1 = hips; ≥ 1 covers it all).
    pub shirt_len: f32,
    /// Depth of the neckline at the front centre (torso height units).
    pub neckline: f32,
    pub print: Option<Print>,
    pub trousers: Texture,
    /// 0.35–0.5 = shorts, 0.75 = capri, 1.05 = long trousers (down to the ankle).
    pub trouser_len: f32,
    pub shoes: Rgb,
    pub background: Background,
    /// Side light across every part, −0.3..0.3 (0 = lit from the front): one flank brighter,
    /// the other darker. Baked on the surface, so the flow stays exact.
    pub light: f32,
}

/// Skin tones from light to dark.
const SKIN: [Rgb; 6] = [
    [247.0, 213.0, 190.0],
    [234.0, 189.0, 157.0],
    [214.0, 164.0, 128.0],
    [176.0, 125.0, 90.0],
    [130.0, 86.0, 58.0],
    [88.0, 57.0, 40.0],
];

const HAIR: [Rgb; 7] = [
    [20.0, 16.0, 14.0],
    [45.0, 30.0, 20.0],
    [90.0, 60.0, 35.0],
    [150.0, 110.0, 60.0],
    [215.0, 180.0, 115.0],
    [140.0, 60.0, 30.0],
    [170.0, 170.0, 170.0],
];

impl Person {
    pub fn sample(rng: &mut SplitMix64, _cfg: &SynthConfig) -> Self {
        let body = Body::sample(rng);
        let i = (rng.next_u64() % (SKIN.len() as u64 - 1)) as usize;
        let skin = mix(SKIN[i], SKIN[i + 1], rf(rng, 0.0, 1.0));
        let hair = scale(pick(rng, &HAIR), rf(rng, 0.85, 1.15)).map(|c| c.min(255.0));
        let shirt = Texture::sample(rng);
        let trousers = Texture::sample(rng);
        let sleeve = [0.0, rf(rng, 0.15, 0.45), 0.5, 1.05][weighted(rng, &[1.0, 3.0, 1.0, 3.0])];
        let trouser_len =
            [rf(rng, 0.35, 0.5), rf(rng, 0.7, 0.8), 1.05][weighted(rng, &[2.0, 1.0, 5.0])];
        let shirt_len = if coin(rng, 0.5) {
            1.1
        } else {
            rf(rng, 0.75, 0.95)
        };
        let torso_r = 0.5 * (body.shoulder_w + body.hip_w);
        let print = coin(rng, 0.35).then(|| {
            Print::sample(
                rng,
                -0.9 * torso_r,
                0.9 * torso_r,
                0.12 * body.torso_len,
                0.6 * body.torso_len,
            )
        });
        Person {
            skin,
            hair,
            hairline: rf(rng, 0.2, 0.34),
            face_edge: rf(rng, 0.05, 0.3),
            eyes: [
                rf(rng, 20.0, 60.0),
                rf(rng, 15.0, 45.0),
                rf(rng, 10.0, 40.0),
            ],
            shirt,
            sleeve,
            shirt_len,
            neckline: rf(rng, 0.02, 0.12),
            print,
            trousers,
            trouser_len,
            shoes: scale(super::util::random_color(rng), 0.6),
            background: Background::sample(rng),
            light: 0.0,
            body,
        }
    }

    /// Re-dresses the person with photo textures ([`super::photo`]): each garment and the
    /// backdrop with a good chance (drawn patterns stay in the mix), and a side light.
    /// `aspect` = scene width / height.
    pub fn photo_look(&mut self, rng: &mut SplitMix64, aspect: f32) {
        if coin(rng, 0.7) {
            self.shirt = Texture::photo(rng, self.shirt.c1);
        }
        if coin(rng, 0.7) {
            self.trousers = Texture::photo(rng, self.trousers.c1);
        }
        if coin(rng, 0.8) {
            self.background = Background::photo(rng, aspect);
        }
        self.light = rf(rng, -0.3, 0.3);
    }

    /// The colour of surface point (a, b) of part `id`; depends on nothing else, which is what
    /// makes the ground-truth flow exact.
    pub fn shade(&self, id: usize, a: f32, b: f32) -> Rgb {
        let bd = &self.body;
        // Capsules are darker towards their silhouette (a pose-independent fake shading).
        let side = 1.0 + self.light * b.sin();
        let limb_shade = |c: Rgb| scale(c, (1.0 - 0.22 * (b * b).min(1.3)) * side);
        match id {
            part::HEAD => {
                let c = b.cos();
                if a < self.hairline || c < self.face_edge {
                    // Sampled on a circle in b so the back of the head has no seam.
                    let streak = fbm(7, 5.0 + 2.5 * b.cos(), 2.5 * b.sin() + 2.0 * a);
                    return scale(self.hair, 0.9 + 0.2 * streak);
                }
                for eye in [-0.42f32, 0.42] {
                    let (de, du) = ((b - eye) / 0.11, (a - 0.52) / 0.05);
                    if de * de + du * du < 1.0 {
                        return self.eyes;
                    }
                }
                if b.abs() < 0.25 && (a - 0.8).abs() < 0.025 {
                    return mix(self.skin, [150.0, 50.0, 50.0], 0.5);
                }
                scale(self.skin, 0.85 + 0.15 * c)
            }
            part::NECK => limb_shade(scale(self.skin, 0.9)),
            part::TORSO => {
                let r = 0.5 * (bd.shoulder_w + bd.hip_w);
                let (tx, ty) = (b * r, a * bd.torso_len);
                let front = b.cos();
                let side_dark = (0.82 + 0.18 * front.abs()) * side;
                if front > 0.0 && a < self.neckline * (1.0 - b.abs() / 0.5) {
                    return scale(self.skin, side_dark);
                }
                let base = if a > self.shirt_len {
                    self.trousers.eval(tx, ty)
                } else if let Some(c) = self
                    .print
                    .as_ref()
                    .filter(|_| front > 0.3)
                    .and_then(|p| p.eval(tx, ty))
                {
                    c
                } else {
                    self.shirt.eval(tx, ty)
                };
                scale(base, side_dark)
            }
            _ if part::UPPER_ARM.contains(&id) || part::LOWER_ARM.contains(&id) => {
                let lower = part::LOWER_ARM.contains(&id);
                let along = if lower { 0.5 + 0.5 * a } else { 0.5 * a };
                if along < self.sleeve {
                    let len = if lower { bd.lower_arm } else { bd.upper_arm };
                    let off = if lower { bd.upper_arm } else { 0.0 };
                    limb_shade(self.shirt.eval(b * bd.arm_r[0], off + a * len))
                } else {
                    limb_shade(self.skin)
                }
            }
            _ if part::HAND.contains(&id) => limb_shade(self.skin),
            _ if part::UPPER_LEG.contains(&id) || part::LOWER_LEG.contains(&id) => {
                let lower = part::LOWER_LEG.contains(&id);
                let along = if lower { 0.5 + 0.5 * a } else { 0.5 * a };
                if along < self.trouser_len {
                    let len = if lower { bd.shin } else { bd.thigh };
                    let off = if lower { bd.thigh } else { 0.0 };
                    limb_shade(self.trousers.eval(b * bd.leg_r[0], off + a * len))
                } else {
                    limb_shade(self.skin)
                }
            }
            _ => limb_shade(self.shoes),
        }
    }
}
