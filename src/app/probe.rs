//! "Where did this pixel come from?" — for a point of the result, the source window each
//! attention level sampled (GFLA: the k×k patch around the flowed position, weighted by its
//! softmax kernel; PoNA: a row of the non-local attention over the code grid), mapped back onto
//! the photo.
//!
//! Coordinates: photo → annotation frame (the crop) → model input (stretched) → level cells
//! (1/2^ℓ of the input, cell u covering input pixels around (u + ½)·2^ℓ − ½). The block
//! extractor reads source cell `c + flow(c) + offset`, offsets −⌊k/2⌋..⌊k/2⌋, and attention
//! channel `i·k + j` weights offset row `i`, column `j`.

use super::engine::Rendered;
use super::field::FloatField;
use crate::imaging::FitTransform;
use crate::pose::rig::Point;
use std::sync::Arc;

/// One level's answer.
#[derive(Clone, Debug)]
pub struct ProbeLevel {
    /// Level ℓ (PoNA: the block index).
    pub level: usize,
    /// The probed cell (x, y) of this level.
    pub cell: [usize; 2],
    /// Centre of the probed cell on the photo.
    pub target: Point,
    /// Where the flow points on the photo (GFLA); the attention peak for PoNA.
    pub source: Point,
    /// The window's rectangle on the photo: x0, y0, x1, y1.
    pub window: [f32; 4],
    /// The weights over the window (kernel × kernel for GFLA, the code grid for PoNA).
    pub weights: Arc<FloatField>,
    /// Largest weight (the heat map's scale).
    pub peak: f32,
}

#[derive(Clone, Debug)]
pub struct Probe {
    /// The clicked point on the photo.
    pub point: Point,
    pub levels: Vec<ProbeLevel>,
}

/// Affine maps between photo pixels and the cells of one level.
#[derive(Clone, Copy, Debug)]
struct LevelGeometry {
    crop: FitTransform,
    /// Input (H, W).
    input_hw: (usize, usize),
    /// Cell size in input pixels (2^ℓ; for PoNA the input size over the grid size).
    cell: (f64, f64),
}

impl LevelGeometry {
    /// The geometry of an `grid_hw` (H, W) grid of cells covering the whole model input.
    fn new(crop: FitTransform, input_hw: (usize, usize), grid_hw: (usize, usize)) -> Self {
        Self {
            crop,
            input_hw,
            cell: (
                input_hw.1 as f64 / grid_hw.1 as f64,
                input_hw.0 as f64 / grid_hw.0 as f64,
            ),
        }
    }

    /// The cell (x, y) nearest to photo point `p`, clamped to the grid.
    fn cell_at(&self, p: Point, grid_hw: (usize, usize)) -> (usize, usize) {
        let (u, v) = self.photo_to_cell(p);
        let clamp = |c: f64, n: usize| (c.round().max(0.0) as usize).min(n - 1);
        (clamp(u, grid_hw.1), clamp(v, grid_hw.0))
    }

    fn photo_to_cell(&self, p: Point) -> (f64, f64) {
        let (fx, fy) = self.crop.photo_to_frame(p[0], p[1]);
        let ix = (fx as f64 + 0.5) * self.input_hw.1 as f64 / self.crop.frame_w - 0.5;
        let iy = (fy as f64 + 0.5) * self.input_hw.0 as f64 / self.crop.frame_h - 0.5;
        (
            (ix + 0.5) / self.cell.0 - 0.5,
            (iy + 0.5) / self.cell.1 - 0.5,
        )
    }

    fn cell_to_photo(&self, u: f64, v: f64) -> Point {
        let ix = (u + 0.5) * self.cell.0 - 0.5;
        let iy = (v + 0.5) * self.cell.1 - 0.5;
        let fx = (ix + 0.5) * self.crop.frame_w / self.input_hw.1 as f64 - 0.5;
        let fy = (iy + 0.5) * self.crop.frame_h / self.input_hw.0 as f64 - 0.5;
        let (px, py) = self.crop.frame_to_photo(fx as f32, fy as f32);
        [px, py]
    }
}

/// The probe at photo point `p`, or `None` when `p` is outside the crop the model saw.
pub fn probe(rendered: &Rendered, p: Point) -> Option<Probe> {
    let crop = rendered.crop;
    let inside = (p[0] as f64) >= crop.x0
        && (p[0] as f64) < crop.x0 + crop.crop_w
        && (p[1] as f64) >= crop.y0
        && (p[1] as f64) < crop.y0 + crop.crop_h;
    if !inside {
        return None;
    }
    let input_hw = rendered.model.input_hw;
    let mut levels = Vec::new();
    for maps in &rendered.levels {
        let Some(att) = &maps.attention else { continue };
        let (w, h) = (maps.flow.width as usize, maps.flow.height as usize);
        let g = LevelGeometry::new(crop, input_hw, (h, w));
        let (cx, cy) = g.cell_at(p, (h, w));
        let at = cy * w + cx;
        let (dx, dy) = (maps.flow.data[at] as f64, maps.flow.data[w * h + at] as f64);
        let (dx, dy) = (finite(dx), finite(dy));
        let (sx, sy) = (cx as f64 + dx, cy as f64 + dy);
        let k = att.kernel;
        let half = (k / 2) as f64;
        let weights: Vec<f32> = (0..k * k).map(|i| att.weights[i * w * h + at]).collect();
        let a = g.cell_to_photo(sx - half - 0.5, sy - half - 0.5);
        let b = g.cell_to_photo(sx + half + 0.5, sy + half + 0.5);
        levels.push(ProbeLevel {
            level: maps.level,
            cell: [cx, cy],
            target: g.cell_to_photo(cx as f64, cy as f64),
            source: g.cell_to_photo(sx, sy),
            window: [a[0], a[1], b[0], b[1]],
            peak: weights.iter().copied().fold(0.0, f32::max),
            weights: Arc::new(FloatField::new(k as u32, k as u32, 1, weights).ok()?),
        });
    }
    if let Some(nl) = &rendered.nonlocal {
        let (gh, gw) = nl.grid_hw;
        let g = LevelGeometry::new(crop, input_hw, (gh, gw));
        let (cx, cy) = g.cell_at(p, (gh, gw));
        let n = gh * gw;
        for (block, a) in nl.blocks.iter().enumerate() {
            // Row = query (target cell), columns = keys (source cells).
            let row = a[(cy * gw + cx) * n..(cy * gw + cx + 1) * n].to_vec();
            let (arg, peak) = row
                .iter()
                .copied()
                .enumerate()
                .fold((0, f32::MIN), |m, (i, x)| if x > m.1 { (i, x) } else { m });
            let tl = g.cell_to_photo(-0.5, -0.5);
            let br = g.cell_to_photo(gw as f64 - 0.5, gh as f64 - 0.5);
            levels.push(ProbeLevel {
                level: block,
                cell: [cx, cy],
                target: g.cell_to_photo(cx as f64, cy as f64),
                source: g.cell_to_photo((arg % gw) as f64, (arg / gw) as f64),
                window: [tl[0], tl[1], br[0], br[1]],
                peak,
                weights: Arc::new(FloatField::new(gw as u32, gh as u32, 1, row).ok()?),
            });
        }
    }
    Some(Probe { point: p, levels })
}

fn finite(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::engine::{LevelMaps, LocalAttention, ModelInfo};
    use crate::model::ModelKind;

    /// A 64×48 input seen through a crop at (100, 50) of 128×96 photo pixels (scale 2); one
    /// level ℓ = 2 (16×12 cells) with a constant flow of (+3, −2) cells and all attention on
    /// the window's bottom-right tap.
    fn rendered() -> Rendered {
        let (w, h, k) = (12usize, 16usize, 3usize);
        let mut flow = vec![3.0f32; w * h];
        flow.extend(vec![-2.0f32; w * h]);
        let mut weights = vec![0.0f32; k * k * w * h];
        weights[(k * k - 1) * w * h..].fill(1.0);
        Rendered {
            request: 1,
            photo_id: 1,
            model: ModelInfo {
                name: "test".into(),
                kind: ModelKind::Gfla,
                description: String::new(),
                device: "cpu".into(),
                fallback: None,
                input_hw: (64, 48),
                frame_hw: (64, 48),
            },
            crop: FitTransform {
                x0: 100.0,
                y0: 50.0,
                crop_w: 96.0,
                crop_h: 128.0,
                frame_w: 48.0,
                frame_h: 64.0,
            },
            image: image::RgbImage::new(48, 64),
            levels: vec![LevelMaps {
                level: 2,
                flow: Arc::new(FloatField::new(w as u32, h as u32, 2, flow).unwrap()),
                mask: Arc::new(FloatField::new(w as u32, h as u32, 1, vec![1.0; w * h]).unwrap()),
                attention: Some(LocalAttention { kernel: k, weights }),
            }],
            nonlocal: None,
            millis: 0.0,
            source_reused: false,
        }
    }

    #[test]
    fn probe_maps_the_flowed_window_back_onto_the_photo() {
        let r = rendered();
        // Cell (5, 7) of level 2 covers input pixels 20..24 × 28..32 → photo 140..148 × 106..114.
        let p = probe(&r, [144.0, 110.0]).unwrap();
        let l = &p.levels[0];
        assert_eq!(l.cell, [5, 7]);
        let close = |a: Point, b: Point| (a[0] - b[0]).abs() < 1e-3 && (a[1] - b[1]).abs() < 1e-3;
        // Cell centre (5, 7) → input (21.5, 29.5) → photo (100 + 2·22 − .5, 50 + 2·30 − .5).
        assert!(close(l.target, [143.5, 109.5]), "{:?}", l.target);
        // Flowed to cell (8, 5): 3 cells right (24 photo px) and 2 up (16 px).
        assert!(close(l.source, [167.5, 93.5]), "{:?}", l.source);
        // The 3×3 window spans cells 6.5..9.5 × 3.5..6.5, i.e. 24 photo px each side.
        let wdw = l.window;
        assert!((wdw[2] - wdw[0] - 24.0).abs() < 1e-3 && (wdw[3] - wdw[1] - 24.0).abs() < 1e-3);
        assert!(close(
            [(wdw[0] + wdw[2]) / 2.0, (wdw[1] + wdw[3]) / 2.0],
            l.source
        ));
        // The bottom-right tap holds all the weight.
        assert_eq!(l.weights.data[8], 1.0);
        assert_eq!(l.peak, 1.0);
        assert_eq!((l.weights.width, l.weights.height), (3, 3));
    }

    #[test]
    fn outside_the_crop_there_is_nothing_to_probe() {
        let r = rendered();
        assert!(probe(&r, [99.0, 60.0]).is_none());
        assert!(probe(&r, [150.0, 178.5]).is_none());
        // The border cells clamp rather than index out of range.
        let p = probe(&r, [100.0, 50.0]).unwrap();
        assert_eq!(p.levels[0].cell, [0, 0]);
    }
}
