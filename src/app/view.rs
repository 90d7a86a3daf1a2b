//! Photo ↔ screen coordinates of the editor panes (zoom about the cursor, pan, fit) and
//! hit-testing joints. Both panes share one [`View`], so the same photo point is at the same
//! place in the photo pane and the result pane.

use crate::pose::rig::{Point, Rig};
use eframe::egui::{Pos2, Rect, Vec2};

/// Zoom limits: a joint must stay grabbable, and 40× is pixel-peeping.
const MIN_SCALE: f32 = 0.02;
const MAX_SCALE: f32 = 40.0;

/// Screen position of photo pixel p: `pane.min + offset + p · scale`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct View {
    /// Screen points per photo pixel.
    pub scale: f32,
    /// Where the photo's origin lies, relative to the pane's top-left corner.
    pub offset: Vec2,
}

impl Default for View {
    fn default() -> Self {
        Self {
            scale: 1.0,
            offset: Vec2::ZERO,
        }
    }
}

impl View {
    /// The whole photo (`w`×`h` pixels) centred in a pane of `size` points, with a small border.
    pub fn fit(size: Vec2, w: f32, h: f32) -> Self {
        let scale = (0.96 * (size.x / w).min(size.y / h)).clamp(MIN_SCALE, MAX_SCALE);
        Self {
            scale,
            offset: (size - Vec2::new(w, h) * scale) / 2.0,
        }
    }

    pub fn to_screen(&self, pane: Rect, p: Point) -> Pos2 {
        pane.min + self.offset + Vec2::new(p[0], p[1]) * self.scale
    }

    pub fn to_photo(&self, pane: Rect, s: Pos2) -> Point {
        let v = (s - pane.min - self.offset) / self.scale;
        [v.x, v.y]
    }

    /// The screen rectangle of a photo-space rectangle `[x0, y0, x1, y1]`.
    pub fn rect_to_screen(&self, pane: Rect, r: [f32; 4]) -> Rect {
        Rect::from_min_max(
            self.to_screen(pane, [r[0], r[1]]),
            self.to_screen(pane, [r[2], r[3]]),
        )
    }

    /// Zooms by `factor` keeping the photo point under `anchor` (a screen position) fixed.
    pub fn zoom_at(&mut self, pane: Rect, anchor: Pos2, factor: f32) {
        let p = self.to_photo(pane, anchor);
        self.scale = (self.scale * factor).clamp(MIN_SCALE, MAX_SCALE);
        self.offset = anchor - pane.min - Vec2::new(p[0], p[1]) * self.scale;
    }

    pub fn pan(&mut self, delta: Vec2) {
        self.offset += delta;
    }
}

/// The joint of `skeleton` nearest to `cursor` within `radius` screen points; hidden joints
/// count only when `include_hidden` (they are drawn, hollow, only then).
pub fn hit_joint(
    view: &View,
    pane: Rect,
    skeleton: &Rig,
    cursor: Pos2,
    radius: f32,
    include_hidden: bool,
) -> Option<usize> {
    skeleton
        .points
        .iter()
        .enumerate()
        .filter(|&(j, _)| include_hidden || skeleton.visible[j])
        .map(|(j, &p)| (j, view.to_screen(pane, p).distance(cursor)))
        .filter(|&(_, d)| d <= radius)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(j, _)| j)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pane() -> Rect {
        Rect::from_min_size(Pos2::new(100.0, 50.0), Vec2::new(800.0, 600.0))
    }

    #[test]
    fn screen_and_photo_round_trip_and_fit_centres() {
        let v = View::fit(pane().size(), 1000.0, 500.0);
        assert!((v.scale - 0.768).abs() < 1e-5);
        let centre = v.to_screen(pane(), [500.0, 250.0]);
        assert!((centre - pane().center()).length() < 1e-3);
        let p = v.to_photo(pane(), Pos2::new(321.5, 222.25));
        let s = v.to_screen(pane(), p);
        assert!((s - Pos2::new(321.5, 222.25)).length() < 1e-3);
    }

    #[test]
    fn zoom_keeps_the_anchor_fixed_and_is_clamped() {
        let mut v = View::fit(pane().size(), 400.0, 300.0);
        let anchor = Pos2::new(333.0, 444.0);
        let before = v.to_photo(pane(), anchor);
        v.zoom_at(pane(), anchor, 2.5);
        let after = v.to_photo(pane(), anchor);
        assert!((before[0] - after[0]).abs() < 1e-3 && (before[1] - after[1]).abs() < 1e-3);
        for _ in 0..100 {
            v.zoom_at(pane(), anchor, 10.0);
        }
        assert_eq!(v.scale, MAX_SCALE);
    }

    #[test]
    fn hit_picks_the_nearest_joint_within_the_radius() {
        let v = View {
            scale: 2.0,
            offset: Vec2::ZERO,
        };
        let mut s = Rig::template(200.0, 300.0);
        let p3 = v.to_screen(pane(), s.points[3]);
        assert_eq!(
            hit_joint(&v, pane(), &s, p3 + Vec2::new(3.0, 0.0), 8.0, false),
            Some(3)
        );
        assert_eq!(
            hit_joint(&v, pane(), &s, p3 + Vec2::new(30.0, 30.0), 8.0, false),
            None
        );
        s.visible[3] = false;
        assert_ne!(hit_joint(&v, pane(), &s, p3, 8.0, false), Some(3));
        assert_eq!(hit_joint(&v, pane(), &s, p3, 8.0, true), Some(3));
    }
}
