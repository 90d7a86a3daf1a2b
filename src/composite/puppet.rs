//! The puppet's edit, composited.
//!
//! The puppet's map is smooth (piecewise affine, softly blended), so it is computed on a grid
//! whose longer side has [`GRID_SIDE`] to twice as many cells and brought up to the photo
//! bilinearly, with the
//! ownership, the hidden-person share and its fill; only the composite itself — sampling the
//! photo and the matte — runs per photo pixel, so the person's edges are the matte's, not the
//! grid's. On a megapixel photo that is a 16th of the per-pixel work (`marionette bench --model
//! composite`); photos under twice `GRID_SIDE` a side (the evaluation's) are done at full
//! resolution.

use super::hidden::{full_resolution_detail, hidden_person, person_fill};
use super::upsample::Upsampler;
use super::{composite, composite_window, Composited, Invented, PhotoLayers, Placement, Window};
use crate::imaging::FlowField;
use crate::pose::Pose;
use crate::puppet::{ownership, puppet_warp, unsquashed, Extremities, PuppetConfig};
use anyhow::Result;
use image::RgbImage;
use rayon::prelude::*;

/// The puppet's grid has this many to twice as many cells along the photo's longer side.
/// Measured (`bench --model composite`, 1024×1024): 256 cells, 51 ms per edit; 204, less
/// (figures in the README). Coarser costs the synthetic evaluation at 256×192 SSIM (−0.013 at
/// a 2× grid), hence full resolution below twice this.
pub const GRID_SIDE: usize = 200;

/// The puppet's grid cell, in photo pixels per side, for an `h × w` photo (1: full resolution).
fn coarse_factor(h: usize, w: usize) -> usize {
    (h.max(w) / GRID_SIDE).max(1)
}

/// A photo-pixel pose on the grid of `f`-pixel cells (cell centres at whole grid coordinates).
fn pose_to_grid(p: &Pose, f: usize) -> Pose {
    let k = f as f32;
    p.map_points(|x, y| ((x + 0.5) / k - 0.5, (y + 0.5) / k - 0.5))
}

/// A pose on the grid of `f`-pixel cells back in photo pixels ([`pose_to_grid`] undone).
fn pose_from_grid(p: &Pose, f: usize) -> Pose {
    let k = f as f32;
    p.map_points(|x, y| ((x + 0.5) * k - 0.5, (y + 0.5) * k - 0.5))
}

/// Where a grid of `gh × gw` cells of `f` pixels sits in the photo.
fn grid_placement(gh: usize, gw: usize, f: usize) -> Placement {
    Placement::new(0.0, 0.0, (gw * f) as f64, (gh * f) as f64, gw, gh)
}

/// What a puppet-prior network adds to the puppet's edit ([`super::composite_network`]): a
/// correction of its flow and the pixels the source does not show.
pub(super) struct Guide<'a> {
    /// The finest level's correction (network flow − puppet prior), in that level's cells.
    pub correction: &'a FlowField,
    /// Where the level's grid lies in the photo.
    pub level_at: Placement,
    /// The network's image and where it lies in the photo.
    pub image: &'a RgbImage,
    pub image_at: Placement,
}

/// A photo placement seen on the grid of `f`-pixel cells.
fn placement_on_grid(p: &Placement, f: usize) -> Placement {
    let k = f as f64;
    Placement {
        x0: p.x0 / k,
        y0: p.y0 / k,
        cell_w: p.cell_w / k,
        cell_h: p.cell_h / k,
        ..*p
    }
}

/// The person moved from `source` to `target` (photo pixels) by the puppet, composited over
/// `layers` at the photo's size.
pub fn composite_puppet(
    layers: &PhotoLayers,
    source: &Pose,
    target: &Pose,
    cfg: &PuppetConfig,
) -> Result<Composited> {
    composite_guided(layers, source, target, cfg, None)
}

/// [`composite_puppet`], with the flow corrected and the hidden person painted by `guide`.
pub(super) fn composite_guided(
    layers: &PhotoLayers,
    source: &Pose,
    target: &Pose,
    cfg: &PuppetConfig,
    guide: Option<&Guide<'_>>,
) -> Result<Composited> {
    let (h, w) = layers.size();
    let f = coarse_factor(h, w);
    if f == 1 {
        return composite_on_grid(layers, layers, source, target, cfg, None, guide);
    }
    let coarse = layers
        .coarse
        .get_or_init(|| Box::new(coarse_layers(layers, f)));
    let (gh, gw) = coarse.size();
    let at = grid_placement(gh, gw, f);
    composite_on_grid(
        layers,
        coarse,
        &pose_to_grid(source, f),
        &pose_to_grid(target, f),
        cfg,
        Some(&at),
        guide,
    )
}

/// Which photo pixels the moved figure shows, by the skeletons: the puppet's ownership, and the
/// figure's core (where a network invents what the source hid). Large photos get it on the
/// puppet's coarse grid, bilinearly upsampled, as [`composite_puppet`] does: at full size a
/// megapixel photo spent ~290 ms per network edit here, on the grid ~15 ms.
pub(super) fn owned_figure(
    layers: &PhotoLayers,
    source: &Pose,
    target: &Pose,
    cfg: &PuppetConfig,
) -> Vec<f32> {
    let (h, w) = layers.size();
    let f = coarse_factor(h, w);
    let grid = if f == 1 {
        layers
    } else {
        layers
            .coarse
            .get_or_init(|| Box::new(coarse_layers(layers, f)))
    };
    let (gh, gw) = grid.size();
    let (src, tgt) = if f == 1 {
        (source.clone(), target.clone())
    } else {
        (pose_to_grid(source, f), pose_to_grid(target, f))
    };
    let cfg = &measured_extremities(cfg, &src, grid);
    let warp = puppet_warp(&src, &tgt, gh, gw, cfg);
    let owned = owned_on(grid, &src, &tgt, &warp, cfg);
    let owned: Vec<f32> = owned
        .iter()
        .zip(&warp.core)
        .map(|(o, f)| o.max(((f - 0.9) * 10.0).clamp(0.0, 1.0)))
        .collect();
    if f == 1 {
        return owned;
    }
    Upsampler::new(&grid_placement(gh, gw, f), h, w).map(&owned, 0.0)
}

/// `cfg` with the hands and feet of the person on `grid` (whose skeleton is `source`, in the
/// grid's pixels) measured from its matte, unless the caller set them.
fn measured_extremities(cfg: &PuppetConfig, source: &Pose, grid: &PhotoLayers) -> PuppetConfig {
    let mut cfg = cfg.clone();
    if cfg.extremities.is_none() {
        let (gh, gw) = grid.size();
        cfg.extremities = Some(Extremities::from_matte(source, &grid.matte, gh, gw));
    }
    cfg
}

/// The ownership of the edit `warp` on `grid` (its pixels), with the labels of which part owns
/// each of its person pixels (made once per photo and skeleton).
pub(super) fn owned_on(
    grid: &PhotoLayers,
    source: &Pose,
    target: &Pose,
    warp: &crate::puppet::PuppetWarp,
    cfg: &PuppetConfig,
) -> Vec<f32> {
    let labels = grid.part_labels(source, cfg);
    ownership(source, target, warp, cfg, Some(&labels))
}

/// The warp, ownership and hidden person on `grid` (the layers themselves, or their coarse
/// copy placed in the photo by `at`), composited over `layers`.
pub(super) fn composite_on_grid(
    layers: &PhotoLayers,
    grid: &PhotoLayers,
    source: &Pose,
    target: &Pose,
    cfg: &PuppetConfig,
    at: Option<&Placement>,
    guide: Option<&Guide<'_>>,
) -> Result<Composited> {
    let (gh, gw) = grid.size();
    let f = at.map_or(1.0, |a| a.cell_w).round().max(1.0) as usize;
    let cfg = &measured_extremities(cfg, source, grid);
    let mut warp = puppet_warp(source, target, gh, gw, cfg);
    if let Some(g) = guide {
        // The network's correction, brought from its level to this grid, on top of the
        // puppet's own (sharp-edged) flow.
        let up = Upsampler::new(&placement_on_grid(&g.level_at, f), gh, gw).flow(g.correction);
        for (v, c) in warp.flow.data.iter_mut().zip(&up.data) {
            *v += c;
        }
    }
    let owned = owned_on(grid, source, target, &warp, cfg);
    let hidden = hidden_person(grid, &warp, &owned)?;
    let fill = if !hidden.iter().any(|&v| v > 0.0) {
        None
    } else if let Some(g) = guide {
        // The network paints what the source hid, in the photo's colours.
        let mut image = Upsampler::new(&placement_on_grid(&g.image_at, f), gh, gw).image(g.image);
        let visible: Vec<f32> = hidden.iter().map(|v| 1.0 - v).collect();
        super::colour::match_colours(&mut image, grid, &warp.flow, &visible, &owned);
        Some(image)
    } else {
        // With the photo's own detail to come (`photo_detail`, on the coarse grid) the grid's
        // fill is the shading alone: a texture per edit on the grid would change its patches
        // from edit to edit under the steady grain of the photo's layer.
        let textured = cfg.textured_fill && !(cfg.photo_detail && at.is_some());
        Some(person_fill(grid, &warp.flow, &owned, &hidden, textured)?)
    };
    // Where anything changes: the flow moves, a part is not owned, or person is hidden. Only
    // that window (grown over the bilinear step and the vacated region's edge) is composited.
    let (h, w) = layers.size();
    let win = match at {
        None => Window::whole(h, w),
        Some(at) => match active_window(&warp.flow, &owned, &hidden, at, h, w) {
            Some(win) => win,
            None => return composite(layers, &FlowField::zeros(h, w), &vec![1.0; h * w]),
        },
    };
    let up_grid = at.map(|at| {
        let shifted = Placement {
            x0: at.x0 - win.x0 as f64,
            y0: at.y0 - win.y0 as f64,
            ..*at
        };
        Upsampler::new(&shifted, win.h, win.w)
    });
    let up = |m: &[f32]| match &up_grid {
        Some(u) => u.map(m, 0.0),
        None => m.to_vec(),
    };
    // Where the target figure has body: the skeleton's own (not a hand's or foot's reach),
    // or hidden person within four cells on a pixel the photo's person covered (the old
    // outline of a limb brought across the chest, between the chest it uncovered and itself).
    let body = match &up_grid {
        Some(_) => {
            let near_hidden = super::vacated::max_filter(&hidden, gh, gw, 4);
            let body: Vec<f32> = (0..gh * gw)
                .map(|i| warp.core[i].max(near_hidden[i] * grid.matte[i]))
                .collect();
            up(&body)
        }
        None => Vec::new(),
    };
    let flow = match &up_grid {
        Some(u) => u.flow(&warp.flow),
        None => warp.flow,
    };
    let (mut owned, mut hidden) = (up(&owned), up(&hidden));
    if up_grid.is_some() {
        // Between two cells of very different flow the bilinear flow sweeps across what lies
        // between their sources: not the person's surface (see `unsquashed`). What such a
        // streak covered is person where the target figure has body (an arm squeezed across
        // the chest: chest), else background (an arc beside a raised arm; between legs spread
        // apart, where the photo's old legs were: asking the photo's matte there filled the
        // gap with blocks of trouser). Where a part is turned round, a mirrored map is its
        // surface: the grid's ownership has judged which (a torso, not a head).
        let w = flow.width;
        let turned = warp.turned;
        let can_fill = fill.is_some();
        owned
            .par_iter_mut()
            .zip(hidden.par_iter_mut())
            .enumerate()
            .for_each(|(i, (o, hid))| {
                if *o > 0.0 {
                    let k = unsquashed(&flow, i % w, i / w, turned);
                    if k < 1.0 && can_fill {
                        let here = ((body[i] - 0.9) * 10.0).clamp(0.0, 1.0);
                        *hid = (*hid + *o * (1.0 - k) * here).min(1.0);
                    }
                    *o *= k;
                }
            });
    }
    let fill = fill.map(|fill| match &up_grid {
        // The grid's fill is smooth at the photo's scale: its detail again from the photo's
        // own pixels (the network's invented pixels, with a guide, keep the network's).
        Some(u) if cfg.photo_detail && guide.is_none() => {
            let origin = (win.x0, win.y0);
            let under = layers.under_arms(&pose_from_grid(source, f));
            let fill = u.image(&fill);
            full_resolution_detail(layers, origin, &flow, &owned, &hidden, &fill, &under)
        }
        Some(u) => u.image(&fill),
        None => fill,
    });
    let Some(fill) = fill else {
        return composite_window(layers, win, &flow, &owned, None);
    };
    // The person is what the figure shows plus what it hides, with no dip between them (the
    // plate would show through as a light seam); of that, the shown share is the warped photo.
    let claimed: Vec<f32> = owned
        .iter()
        .zip(&hidden)
        .map(|(o, h)| (o + h).min(1.0))
        .collect();
    let visible: Vec<f32> = owned
        .iter()
        .zip(&claimed)
        .map(|(o, c)| if *c > 0.0 { (o / c).min(1.0) } else { 1.0 })
        .collect();
    composite_window(
        layers,
        win,
        &flow,
        &claimed,
        Some(Invented {
            image: &fill,
            visible: &visible,
            // How much body, not only the streaks' surely body (its cut at 0.9): where the
            // chest meets an arm brought across it, that cut left 119 grey pixels of plate
            // along the arm's old outline in the astronaut test, `body` 77 (as before the
            // plate was held back by alpha at all).
            body: (!body.is_empty()).then_some(&body[..]),
        }),
    )
}

/// The photo window around the grid cells where the edit changes anything, grown by two cells
/// (the bilinear step reaches one) and the vacated region's edge; `None` when nothing changes.
fn active_window(
    flow: &FlowField,
    owned: &[f32],
    hidden: &[f32],
    at: &Placement,
    h: usize,
    w: usize,
) -> Option<Window> {
    let (gh, gw) = (flow.height, flow.width);
    let plane = gh * gw;
    let (mut x0, mut y0, mut x1, mut y1) = (gw, gh, 0, 0);
    for i in 0..plane {
        if flow.data[i] != 0.0 || flow.data[plane + i] != 0.0 || owned[i] < 1.0 || hidden[i] > 0.0 {
            let (x, y) = (i % gw, i / gw);
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
    }
    if x0 > x1 {
        return None;
    }
    let grow = super::layers::hole_radius(h, w) as f64 + 1.0;
    let px = |g: usize, d: isize, cell: f64, origin: f64| {
        (origin + (g as isize + d) as f64 * cell).max(0.0)
    };
    let left = (px(x0, -2, at.cell_w, at.x0) - grow).max(0.0) as usize;
    let top = (px(y0, -2, at.cell_h, at.y0) - grow).max(0.0) as usize;
    let right = ((px(x1, 3, at.cell_w, at.x0) + grow).ceil() as usize).min(w);
    let bottom = ((px(y1, 3, at.cell_h, at.y0) + grow).ceil() as usize).min(h);
    (right > left && bottom > top).then_some(Window {
        x0: left,
        y0: top,
        w: right - left,
        h: bottom - top,
    })
}

/// The layers averaged over `f × f` blocks (the last row and column of blocks may be partial).
fn coarse_layers(layers: &PhotoLayers, f: usize) -> PhotoLayers {
    let (h, w) = layers.size();
    let (gh, gw) = (h.div_ceil(f), w.div_ceil(f));
    let block = |gx: usize, gy: usize| {
        let (x0, y0) = (gx * f, gy * f);
        (x0..(x0 + f).min(w)).flat_map(move |x| (y0..(y0 + f).min(h)).map(move |y| (x, y)))
    };
    let mean_rgb = |img: &RgbImage| {
        RgbImage::from_fn(gw as u32, gh as u32, |gx, gy| {
            let (mut s, mut n) = ([0u32; 3], 0u32);
            for (x, y) in block(gx as usize, gy as usize) {
                let p = img.get_pixel(x as u32, y as u32).0;
                for c in 0..3 {
                    s[c] += p[c] as u32;
                }
                n += 1;
            }
            image::Rgb(s.map(|v| ((v + n / 2) / n.max(1)) as u8))
        })
    };
    let matte: Vec<f32> = (0..gh * gw)
        .map(|i| {
            let (mut s, mut n) = (0f32, 0f32);
            for (x, y) in block(i % gw, i / gw) {
                s += layers.matte[y * w + x];
                n += 1.0;
            }
            s / n.max(1.0)
        })
        .collect();
    PhotoLayers {
        id: layers.id,
        photo: mean_rgb(&layers.photo),
        matte,
        plate: mean_rgb(&layers.plate),
        coarse: std::sync::OnceLock::new(),
        foreground: std::sync::OnceLock::new(),
        under_arms: Default::default(),
        labels: Default::default(),
    }
}
