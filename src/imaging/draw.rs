//! Drawing skeletons onto images (sample sheets, evaluation sheets, previews).

use crate::pose::{Pose, JOINT_COLORS, LIMBS, LIMB_COLORS};
use image::RgbImage;

/// Draws the limbs of `pose` as `thickness`-pixel lines in the OpenPose colours, and a dot per
/// joint. Joints are in the image's pixel coordinates; parts outside are clipped.
pub fn draw_skeleton(img: &mut RgbImage, pose: &Pose, thickness: f32) {
    for (limb, &(a, b)) in LIMBS.iter().enumerate() {
        if let (Some(p), Some(q)) = (pose.get(a), pose.get(b)) {
            draw_segment(img, (p.x, p.y), (q.x, q.y), thickness, LIMB_COLORS[limb]);
        }
    }
    for (j, p) in pose.present() {
        draw_segment(
            img,
            (p.x, p.y),
            (p.x, p.y),
            thickness * 1.6,
            JOINT_COLORS[j],
        );
    }
}

/// A filled capsule of diameter `thickness` from `a` to `b`, anti-aliased by coverage.
pub fn draw_segment(
    img: &mut RgbImage,
    a: (f32, f32),
    b: (f32, f32),
    thickness: f32,
    rgb: [u8; 3],
) {
    let r = thickness / 2.0;
    let (w, h) = (img.width() as i64, img.height() as i64);
    let x0 = (a.0.min(b.0) - r - 1.0).floor().max(0.0) as i64;
    let x1 = (a.0.max(b.0) + r + 1.0).ceil().min((w - 1) as f32) as i64;
    let y0 = (a.1.min(b.1) - r - 1.0).floor().max(0.0) as i64;
    let y1 = (a.1.max(b.1) + r + 1.0).ceil().min((h - 1) as f32) as i64;
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    for y in y0..=y1 {
        for x in x0..=x1 {
            let (px, py) = (x as f32 - a.0, y as f32 - a.1);
            let t = if len2 > 0.0 {
                ((px * dx + py * dy) / len2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let d = ((px - t * dx).powi(2) + (py - t * dy).powi(2)).sqrt();
            let cover = (r + 0.5 - d).clamp(0.0, 1.0);
            if cover > 0.0 {
                let p = img.get_pixel_mut(x as u32, y as u32);
                for c in 0..3 {
                    p[c] = (p[c] as f32 * (1.0 - cover) + rgb[c] as f32 * cover).round() as u8;
                }
            }
        }
    }
}

/// Draws the outline of the region where `share` (H·W, row-major) exceeds 0.5: every region
/// pixel with a 4-neighbour outside it (or on the frame's edge) takes `colour`, `width` pixels
/// deep. Marks what a composite invented without hiding what is inside.
pub fn outline_region(img: &mut RgbImage, share: &[f32], colour: [u8; 3], width: usize) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    if share.len() != w * h {
        return;
    }
    let mut inside: Vec<bool> = share.iter().map(|&v| v > 0.5).collect();
    for _ in 0..width.max(1) {
        let edge: Vec<bool> = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                inside[i]
                    && (x == 0
                        || y == 0
                        || x + 1 == w
                        || y + 1 == h
                        || !inside[i - 1]
                        || !inside[i + 1]
                        || !inside[i - w]
                        || !inside[i + w])
            })
            .collect();
        for (i, _) in edge.iter().enumerate().filter(|(_, &e)| e) {
            img.put_pixel((i % w) as u32, (i / w) as u32, image::Rgb(colour));
            inside[i] = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pose::Joint;

    #[test]
    fn segment_colours_its_pixels_and_clips_outside() {
        let mut img = RgbImage::new(10, 10);
        draw_segment(&mut img, (2.0, 5.0), (7.0, 5.0), 2.0, [255, 0, 0]);
        assert_eq!(img.get_pixel(4, 5).0, [255, 0, 0]);
        assert_eq!(img.get_pixel(4, 0).0, [0, 0, 0]);
        let mut pose = Pose::missing();
        pose.set(1, Some(Joint::new(-50.0, 3.0, 1.0)));
        pose.set(2, Some(Joint::new(50.0, 3.0, 1.0)));
        draw_skeleton(&mut img, &pose, 2.0); // crosses the whole image; must not panic
        assert_ne!(img.get_pixel(5, 3).0, [0, 0, 0]);
    }

    /// The outline is the region's border, one pixel deep per unit of width; inside and
    /// outside are untouched.
    #[test]
    fn outline_marks_the_border_only() {
        let mut img = RgbImage::new(8, 8);
        let share: Vec<f32> = (0..64)
            .map(|i| {
                if (2..6).contains(&(i % 8)) && (2..6).contains(&(i / 8)) {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        outline_region(&mut img, &share, [255, 0, 255], 1);
        let marked = |x, y| img.get_pixel(x, y).0 == [255, 0, 255];
        assert!(marked(2, 2) && marked(5, 3) && marked(3, 5));
        assert!(!marked(3, 3) && !marked(4, 4), "the inside is kept");
        assert!(!marked(1, 1) && !marked(6, 6), "the outside is kept");
        assert_eq!((0..64).filter(|i| marked(i % 8, i / 8)).count(), 12);
    }
}
