//! The working image of both fills: float RGB with a hole mask, and its coarser levels.
//!
//! A coarse pixel is known when *any* of its 2×2 children is known, and then holds the mean of
//! the known children only: hole colours never leak into the data, and the hole shrinks at each
//! level, so a person-sized hole becomes a few-pixel one that a patch or a membrane fills easily.

use image::RgbImage;

/// One pyramid level: `px` is row-major interleaved RGB (0..255 as floats), `hole[i]` marks
/// pixels still to be filled (their `px` values are an estimate, or zero before any fill).
#[derive(Clone, Debug)]
pub(super) struct Level {
    pub w: usize,
    pub h: usize,
    pub px: Vec<f32>,
    pub hole: Vec<bool>,
    /// The hole pixels whose fill is used (`None`: all). The exemplar fill matches only the
    /// patches that touch them; the rest of the hole is no source and keeps its smooth guess.
    pub wanted: Option<Vec<bool>>,
}

impl Level {
    /// The photo with hole pixels zeroed (so nothing reads the person by accident).
    pub fn from_image(img: &RgbImage, hole: &[bool]) -> Self {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let px = img
            .as_raw()
            .iter()
            .enumerate()
            .map(|(i, &v)| if hole[i / 3] { 0.0 } else { v as f32 })
            .collect();
        Self {
            w,
            h,
            px,
            hole: hole.to_vec(),
            wanted: None,
        }
    }

    pub fn rgb(&self, i: usize) -> [f32; 3] {
        [self.px[3 * i], self.px[3 * i + 1], self.px[3 * i + 2]]
    }

    /// Half the size (rounded up), known pixels averaged over their known children.
    pub fn downsample(&self) -> Level {
        let (cw, ch) = (self.w.div_ceil(2), self.h.div_ceil(2));
        let mut px = vec![0f32; 3 * cw * ch];
        let mut hole = vec![true; cw * ch];
        // A coarse pixel is wanted when any of its children is.
        let mut wanted = self.wanted.as_ref().map(|_| vec![false; cw * ch]);
        for y in 0..ch {
            for x in 0..cw {
                let mut acc = [0f32; 3];
                let mut n = 0usize;
                for fy in 2 * y..(2 * y + 2).min(self.h) {
                    for fx in 2 * x..(2 * x + 2).min(self.w) {
                        let i = fy * self.w + fx;
                        if let (Some(cw_), Some(fw)) = (wanted.as_mut(), self.wanted.as_ref()) {
                            cw_[y * cw + x] |= fw[i];
                        }
                        if !self.hole[i] {
                            let c = self.rgb(i);
                            (0..3).for_each(|k| acc[k] += c[k]);
                            n += 1;
                        }
                    }
                }
                if n > 0 {
                    let o = y * cw + x;
                    hole[o] = false;
                    (0..3).for_each(|k| px[3 * o + k] = acc[k] / n as f32);
                }
            }
        }
        Level {
            w: cw,
            h: ch,
            px,
            hole,
            wanted,
        }
    }

    /// Sets every hole pixel to the bilinear sample of the (fully filled) coarser level
    /// `coarse`, whose pixel (X, Y) covers this level's 2X..2X+1: the initial guess a finer
    /// level refines.
    pub fn init_hole_from(&mut self, coarse: &Level) {
        let clampf = |v: f32, n: usize| v.clamp(0.0, (n - 1) as f32);
        for y in 0..self.h {
            let cy = clampf((y as f32 + 0.5) / 2.0 - 0.5, coarse.h);
            let (y0, ty) = (cy.floor() as usize, cy.fract());
            let y1 = (y0 + 1).min(coarse.h - 1);
            for x in 0..self.w {
                let i = y * self.w + x;
                if !self.hole[i] {
                    continue;
                }
                let cx = clampf((x as f32 + 0.5) / 2.0 - 0.5, coarse.w);
                let (x0, tx) = (cx.floor() as usize, cx.fract());
                let x1 = (x0 + 1).min(coarse.w - 1);
                let at = |xx: usize, yy: usize, k: usize| coarse.px[3 * (yy * coarse.w + xx) + k];
                for k in 0..3 {
                    let top = at(x0, y0, k) * (1.0 - tx) + at(x1, y0, k) * tx;
                    let bottom = at(x0, y1, k) * (1.0 - tx) + at(x1, y1, k) * tx;
                    self.px[3 * i + k] = top * (1.0 - ty) + bottom * ty;
                }
            }
        }
    }

    pub fn hole_count(&self) -> usize {
        self.hole.iter().filter(|&&h| h).count()
    }
}

/// `base` and its coarser levels, finest first, halving while the shorter side stays ≥
/// `min_side` and the level still has a hole.
pub(super) fn build(base: Level, min_side: usize) -> Vec<Level> {
    let mut levels = vec![base];
    loop {
        let last = levels
            .last()
            .expect("the pyramid starts with the base level");
        let short = last.w.min(last.h);
        if short / 2 < min_side.max(2) || last.hole_count() == 0 {
            break;
        }
        let next = last.downsample();
        levels.push(next);
    }
    levels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downsample_averages_known_children_only() {
        // 2×2 image: three known pixels of value 30, 60, 90 and one hole pixel of value 255.
        let img = RgbImage::from_fn(2, 2, |x, y| {
            let v = [30u8, 60, 90, 255][(y * 2 + x) as usize];
            image::Rgb([v, v, v])
        });
        let l = Level::from_image(&img, &[false, false, false, true]);
        let c = l.downsample();
        assert_eq!((c.w, c.h), (1, 1));
        assert!(!c.hole[0]);
        assert_eq!(c.rgb(0), [60.0; 3]);
        let all = Level::from_image(&img, &[true; 4]).downsample();
        assert!(
            all.hole[0],
            "a coarse pixel with no known child stays a hole"
        );
    }

    #[test]
    fn pyramid_stops_at_min_side_and_odd_sizes_round_up() {
        let img = RgbImage::new(101, 50);
        // A 4×4 hole stays a hole for two halvings.
        let hole: Vec<bool> = (0..101 * 50).map(|i| i % 101 < 4 && i / 101 < 4).collect();
        let levels = build(Level::from_image(&img, &hole), 12);
        let sizes: Vec<_> = levels.iter().map(|l| (l.w, l.h)).collect();
        assert_eq!(sizes, vec![(101, 50), (51, 25), (26, 13)]);
    }
}
