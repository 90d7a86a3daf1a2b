//! A visual contact sheet of pairs: source | target | flow colour | visibility, one row per
//! pair, with the skeletons drawn on source and target.

use image::{Rgb, RgbImage};

use super::SynthPair;
use crate::imaging::flow_to_color;
use crate::pose::skeleton::{JOINT_COLORS, LIMBS, LIMB_COLORS};
use crate::pose::Pose;

const GAP: u32 = 2;

fn disc(img: &mut RgbImage, cx: f32, cy: f32, r: f32, c: [u8; 3]) {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let ri = r.ceil() as i64;
    for y in (cy.round() as i64 - ri)..=(cy.round() as i64 + ri) {
        for x in (cx.round() as i64 - ri)..=(cx.round() as i64 + ri) {
            let (dx, dy) = (x as f32 - cx, y as f32 - cy);
            if x >= 0 && y >= 0 && x < w && y < h && dx * dx + dy * dy <= r * r + 0.25 {
                img.put_pixel(x as u32, y as u32, Rgb(c));
            }
        }
    }
}

/// Draws `pose`'s limbs and joints onto `img`.
pub fn draw_skeleton(img: &mut RgbImage, pose: &Pose) {
    let r = (img.width().min(img.height()) as f32 / 160.0).max(0.6);
    for (i, &(a, b)) in LIMBS.iter().enumerate() {
        if let (Some(p), Some(q)) = (pose.get(a), pose.get(b)) {
            let steps = ((q.x - p.x).hypot(q.y - p.y) * 2.0).ceil().max(1.0) as usize;
            for s in 0..=steps {
                let t = s as f32 / steps as f32;
                disc(
                    img,
                    p.x + (q.x - p.x) * t,
                    p.y + (q.y - p.y) * t,
                    r * 0.6,
                    LIMB_COLORS[i],
                );
            }
        }
    }
    for (j, p) in pose.present() {
        disc(img, p.x, p.y, r * 1.5, JOINT_COLORS[j]);
    }
}

/// One row per pair: source (with skeleton) | target (with skeleton) | flow colour
/// ([`flow_to_color`]) | visibility (white = visible in the source).
pub fn contact_sheet(pairs: &[SynthPair]) -> RgbImage {
    let tw = pairs.iter().map(|p| p.target.width()).max().unwrap_or(1);
    let th = pairs.iter().map(|p| p.target.height()).max().unwrap_or(1);
    let rows = pairs.len().max(1) as u32;
    let mut sheet = RgbImage::from_pixel(
        4 * tw + 5 * GAP,
        rows * th + (rows + 1) * GAP,
        Rgb([40, 40, 40]),
    );
    for (row, p) in pairs.iter().enumerate() {
        let (w, h) = (p.flow.width, p.flow.height);
        let mut src = p.source.clone();
        draw_skeleton(&mut src, &p.source_pose);
        let mut tgt = p.target.clone();
        draw_skeleton(&mut tgt, &p.target_pose);
        let plane = w * h;
        let flow = flow_to_color(&p.flow.data[..plane], &p.flow.data[plane..], h, w);
        let vis = RgbImage::from_fn(w as u32, h as u32, |x, y| {
            let v = (p.visibility[y as usize * w + x as usize].clamp(0.0, 1.0) * 255.0) as u8;
            Rgb([v, v, v])
        });
        let y0 = GAP + row as u32 * (th + GAP);
        for (col, tile) in [src, tgt, flow, vis].iter().enumerate() {
            let x0 = GAP + col as u32 * (tw + GAP);
            image::imageops::replace(&mut sheet, tile, x0 as i64, y0 as i64);
        }
    }
    sheet
}
