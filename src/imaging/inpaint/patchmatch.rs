//! Exemplar-based completion (Wexler, Shechtman & Irani 2007) with PatchMatch nearest-neighbour
//! fields (Barnes et al. 2009), coarse to fine.
//!
//! At each level, every *target* patch (a patch overlapping the hole) is matched to a *source*
//! patch lying entirely in the known part of the image: the nearest-neighbour field (NNF) is
//! improved by propagation (a neighbour's match, shifted by one pixel) and random search
//! (candidates around the current match at halving radii). The hole is then re-estimated by
//! voting: each hole pixel is the weighted mean of what the source patches of all target
//! patches covering it say it should be, weights falling with the patch distance. Search and
//! vote alternate (an EM iteration). The coarse NNF (offsets doubled) starts the next finer
//! level — voted with at once, so the hole starts from this level's own source pixels and not
//! from the coarse image's blur, which would pull every match towards flat sources — so large
//! structures are settled where the hole is small. The coarsest level's first search compares
//! only the known pixels of each patch: its hole starts as a smooth membrane, and matching that
//! drew flat patches into every hole (a pavement filled with a grey blob, a bus cut off).
//!
//! Parallel and still deterministic: the search runs on fixed bands of rows, each band in scan
//! order with its own random stream (seeded from the seed, level, pass and band, never from the
//! thread), reading neighbours outside its band from the field as it was before the pass; the
//! vote is a per-pixel gather.

use rayon::prelude::*;

use super::diffusion;
use super::pyramid::Level;
use super::{InpaintError, PatchMatchParams};
use crate::util::rng::SplitMix64;

/// Rows per search band: the unit of parallel work and of random streams.
const BAND: usize = 16;
/// No match (a target centre that is not active).
const NONE: u32 = u32::MAX;
/// Levels whose shorter side is at least this use `params.patch_size`, coarser ones
/// `params.coarse_patch_size`.
const FINE_SIDE: usize = 128;
/// Sweeps of the membrane fill that starts the coarsest level.
const INIT_SWEEPS: usize = 300;

/// Which patch centres of one level are sources and which are targets, for patch radius `r`.
struct Geometry {
    w: usize,
    h: usize,
    r: usize,
    /// Per pixel: a patch centred here is inside the image and has no hole pixel.
    valid: Vec<bool>,
    /// The valid centres, for random draws.
    sources: Vec<u32>,
    /// Per pixel: a patch centred here is inside the image and has a hole pixel.
    active: Vec<bool>,
}

impl Geometry {
    /// `None` when the level has no source patch of this size.
    fn new(level: &Level, r: usize) -> Option<Self> {
        let (w, h) = (level.w, level.h);
        let p = 2 * r + 1;
        if w < p || h < p {
            return None;
        }
        let hole = summed_area(w, h, |i| level.hole[i]);
        let wanted = level
            .wanted
            .as_ref()
            .map(|wanted| summed_area(w, h, |i| wanted[i]));
        let mut valid = vec![false; w * h];
        let mut active = vec![false; w * h];
        for y in r..h - r {
            for x in r..w - r {
                let n = hole.count(x - r, y - r, x + r + 1, y + r + 1);
                valid[y * w + x] = n == 0;
                active[y * w + x] = n > 0
                    && wanted
                        .as_ref()
                        .is_none_or(|s| s.count(x - r, y - r, x + r + 1, y + r + 1) > 0);
            }
        }
        let sources: Vec<u32> = (0..w * h).filter(|&i| valid[i]).map(|i| i as u32).collect();
        (!sources.is_empty()).then_some(Self {
            w,
            h,
            r,
            valid,
            sources,
            active,
        })
    }

    fn random_source(&self, rng: &mut SplitMix64) -> u32 {
        self.sources[(rng.next_u64() % self.sources.len() as u64) as usize]
    }

    /// The source centre at (x, y) when it is one.
    fn source_at(&self, x: isize, y: isize) -> Option<u32> {
        let inside = x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h;
        let i = y as usize * self.w + x as usize;
        (inside && self.valid[i]).then_some(i as u32)
    }
}

/// A summed-area table of a mask: how many set pixels any box holds, in O(1).
struct SummedArea {
    stride: usize,
    sums: Vec<u32>,
}

fn summed_area(w: usize, h: usize, set: impl Fn(usize) -> bool) -> SummedArea {
    let stride = w + 1;
    let mut sums = vec![0u32; stride * (h + 1)];
    for y in 0..h {
        let mut row = 0u32;
        for x in 0..w {
            row += set(y * w + x) as u32;
            sums[(y + 1) * stride + x + 1] = sums[y * stride + x + 1] + row;
        }
    }
    SummedArea { stride, sums }
}

impl SummedArea {
    /// Set pixels in columns `x0..x1`, rows `y0..y1`.
    fn count(&self, x0: usize, y0: usize, x1: usize, y1: usize) -> u32 {
        let s = |x: usize, y: usize| self.sums[y * self.stride + x];
        s(x1, y1) + s(x0, y0) - s(x1, y0) - s(x0, y1)
    }
}

/// The nearest-neighbour field: per target centre, its source centre and their patch SSD.
struct Field {
    src: Vec<u32>,
    dist: Vec<f32>,
}

/// Sum of squared differences of the patches (radius `r`) centred at `t` and `s`, both inside
/// the image; stops summing once past `bound` (only whether it beats `bound` matters then).
#[inline]
fn patch_ssd(px: &[f32], w: usize, r: usize, t: usize, s: usize, bound: f32) -> f32 {
    let len = 3 * (2 * r + 1);
    let (t0, s0) = (3 * (t - r * w - r), 3 * (s - r * w - r));
    let mut acc = 0f32;
    for row in 0..2 * r + 1 {
        let a = &px[t0 + 3 * row * w..t0 + 3 * row * w + len];
        let b = &px[s0 + 3 * row * w..s0 + 3 * row * w + len];
        // Four partial sums so the compiler can keep several lanes busy.
        let mut part = [0f32; 4];
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            let d = x - y;
            part[i & 3] += d * d;
        }
        acc += part[0] + part[1] + part[2] + part[3];
        if acc > bound {
            break;
        }
    }
    acc
}

/// [`patch_ssd`] over the target patch's known pixels only, scaled to a whole patch (the
/// plain SSD when the patch has none): what matches a boundary patch to its surroundings
/// before the hole's first guess (a membrane, smooth) can pull every match towards flat
/// sources.
fn patch_ssd_known(px: &[f32], hole: &[bool], w: usize, r: usize, t: usize, s: usize) -> f32 {
    let side = 2 * r + 1;
    let (t0, s0) = (t - r * w - r, s - r * w - r);
    let (mut acc, mut n) = (0f32, 0usize);
    for row in 0..side {
        for col in 0..side {
            let (a, b) = (t0 + row * w + col, s0 + row * w + col);
            if hole[a] {
                continue;
            }
            for c in 0..3 {
                let d = px[3 * a + c] - px[3 * b + c];
                acc += d * d;
            }
            n += 1;
        }
    }
    if n == 0 {
        return patch_ssd(px, w, r, t, s, f32::INFINITY);
    }
    acc * (side * side) as f32 / n as f32
}

/// How target patches are compared with source patches in a search.
#[derive(Clone, Copy)]
enum Compare<'a> {
    /// Every pixel, the hole's current estimate included (EM iterations).
    Whole,
    /// The target's known pixels only ([`patch_ssd_known`]; `hole` is the level's) for the
    /// targets `fresh` marks, [`Compare::Whole`] for the rest.
    Known { hole: &'a [bool], fresh: &'a [bool] },
}

impl Compare<'_> {
    #[inline]
    fn ssd(self, px: &[f32], w: usize, r: usize, t: usize, s: usize, bound: f32) -> f32 {
        match self {
            Compare::Whole => patch_ssd(px, w, r, t, s, bound),
            Compare::Known { hole, fresh } if fresh[t] => patch_ssd_known(px, hole, w, r, t, s),
            Compare::Known { .. } => patch_ssd(px, w, r, t, s, bound),
        }
    }
}

fn stream_seed(seed: u64, parts: &[u64]) -> SplitMix64 {
    let mut rng = SplitMix64::new(seed);
    for &p in parts {
        let mixed = rng.next_u64() ^ p.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        rng = SplitMix64::new(mixed);
    }
    rng
}

/// A field with a random source for every target.
fn random_field(geo: &Geometry, px: &[f32], seed: u64) -> Field {
    let w = geo.w;
    let mut src = vec![NONE; w * geo.h];
    src.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        let mut rng = stream_seed(seed, &[y as u64]);
        for (x, s) in row.iter_mut().enumerate() {
            if geo.active[y * w + x] {
                *s = geo.random_source(&mut rng);
            }
        }
    });
    let mut field = Field {
        dist: vec![f32::INFINITY; w * geo.h],
        src,
    };
    refresh_distances(geo, px, &mut field);
    field
}

/// The coarse field `coarse` (on `cgeo`) carried to this level: offsets doubled, and a random
/// source wherever the doubled offset does not land on a source here. Also which targets got
/// the random one (*fresh*: at the coarse level their place was no target — the hole there
/// was smaller — or its match lands on no source here).
fn upsample_field(
    geo: &Geometry,
    cgeo: &Geometry,
    coarse: &Field,
    px: &[f32],
    seed: u64,
) -> (Field, Vec<bool>) {
    let w = geo.w;
    let mut src = vec![NONE; w * geo.h];
    let mut fresh = vec![false; w * geo.h];
    src.par_chunks_mut(w)
        .zip(fresh.par_chunks_mut(w))
        .enumerate()
        .for_each(|(y, (row, fresh))| {
            let mut rng = stream_seed(seed, &[y as u64]);
            let cy = (y / 2).clamp(cgeo.r, cgeo.h - 1 - cgeo.r);
            for (x, s) in row.iter_mut().enumerate() {
                if !geo.active[y * w + x] {
                    continue;
                }
                let cx = (x / 2).clamp(cgeo.r, cgeo.w - 1 - cgeo.r);
                let cs = coarse.src[cy * cgeo.w + cx];
                let carried = (cs != NONE).then(|| {
                    let (sx, sy) = (
                        (cs as usize % cgeo.w) as isize,
                        (cs as usize / cgeo.w) as isize,
                    );
                    let (ox, oy) = (2 * (sx - cx as isize), 2 * (sy - cy as isize));
                    geo.source_at(x as isize + ox, y as isize + oy)
                });
                *s = carried.flatten().unwrap_or_else(|| {
                    fresh[x] = true;
                    geo.random_source(&mut rng)
                });
            }
        });
    let mut field = Field {
        dist: vec![f32::INFINITY; w * geo.h],
        src,
    };
    refresh_distances(geo, px, &mut field);
    (field, fresh)
}

/// Recomputes every target's distance (after the image changed under the field).
fn refresh_distances(geo: &Geometry, px: &[f32], field: &mut Field) {
    refresh_distances_by(geo, px, field, Compare::Whole)
}

fn refresh_distances_by(geo: &Geometry, px: &[f32], field: &mut Field, cmp: Compare<'_>) {
    let w = geo.w;
    field
        .dist
        .par_chunks_mut(w)
        .zip(field.src.par_chunks(w))
        .enumerate()
        .for_each(|(y, (dist, src))| {
            for x in 0..w {
                if src[x] != NONE {
                    dist[x] = cmp.ssd(px, w, geo.r, y * w + x, src[x] as usize, f32::INFINITY);
                }
            }
        });
}

/// One PatchMatch pass: propagation from the previous neighbours in scan order (left and up,
/// or right and down when `reverse`) and a random search around each match.
fn search_pass(
    geo: &Geometry,
    px: &[f32],
    field: &mut Field,
    seed: u64,
    reverse: bool,
    cmp: Compare<'_>,
) {
    let (w, h, r) = (geo.w, geo.h, geo.r);
    let before = field.src.clone();
    let step: isize = if reverse { 1 } else { -1 };
    let max_radius = w.max(h) as isize;
    field
        .src
        .par_chunks_mut(BAND * w)
        .zip(field.dist.par_chunks_mut(BAND * w))
        .enumerate()
        .for_each(|(band, (src, dist))| {
            let mut rng = stream_seed(seed, &[band as u64]);
            let rows = src.len() / w;
            let y0 = band * BAND;
            for k in 0..rows {
                let ly = if reverse { rows - 1 - k } else { k };
                let y = y0 + ly;
                for j in 0..w {
                    let x = if reverse { w - 1 - j } else { j };
                    let t = y * w + x;
                    if !geo.active[t] {
                        continue;
                    }
                    let li = ly * w + x;
                    let (mut best, mut best_d) = (src[li], dist[li]);
                    let consider = |cand: u32, best: &mut u32, best_d: &mut f32| {
                        if cand != *best {
                            let d = cmp.ssd(px, w, r, t, cand as usize, *best_d);
                            if d < *best_d {
                                (*best, *best_d) = (cand, d);
                            }
                        }
                    };
                    // Propagation: the neighbour one step back along x, then along y.
                    let nx = x as isize + step;
                    if nx >= 0 && (nx as usize) < w && geo.active[y * w + nx as usize] {
                        let s = src[ly * w + nx as usize] as usize;
                        let cand = geo.source_at((s % w) as isize - step, (s / w) as isize);
                        if let Some(c) = cand {
                            consider(c, &mut best, &mut best_d);
                        }
                    }
                    let ny = y as isize + step;
                    if ny >= 0 && (ny as usize) < h && geo.active[ny as usize * w + x] {
                        let lny = ly as isize + step;
                        let s = if lny >= 0 && (lny as usize) < rows {
                            src[lny as usize * w + x]
                        } else {
                            before[ny as usize * w + x]
                        } as usize;
                        let cand = geo.source_at((s % w) as isize, (s / w) as isize - step);
                        if let Some(c) = cand {
                            consider(c, &mut best, &mut best_d);
                        }
                    }
                    // Random search around the match, radius halving down to one pixel.
                    let (bx, by) = ((best as usize % w) as isize, (best as usize / w) as isize);
                    let mut radius = max_radius;
                    while radius >= 1 {
                        let span = 2 * radius as u64 + 1;
                        let rx = bx + (rng.next_u64() % span) as isize - radius;
                        let ry = by + (rng.next_u64() % span) as isize - radius;
                        let rx = rx.clamp(r as isize, (w - 1 - r) as isize);
                        let ry = ry.clamp(r as isize, (h - 1 - r) as isize);
                        if let Some(c) = geo.source_at(rx, ry) {
                            consider(c, &mut best, &mut best_d);
                        }
                        radius /= 2;
                    }
                    (src[li], dist[li]) = (best, best_d);
                }
            }
        });
}

/// Re-estimates the hole: each hole pixel becomes the weighted mean of the pixels the source
/// patches of the target patches covering it put there. Weights are `exp(−d / 2σ²)` of the
/// per-value patch distance `d`, σ² its 75th percentile over the targets (Wexler et al.), so
/// a good match outvotes a poor one without a fixed scale. Targets `skip` marks do not vote;
/// a hole pixel no target votes for keeps its value.
fn vote(geo: &Geometry, level: &mut Level, field: &Field, skip: Option<&[bool]>) {
    let skipped = |t: usize| skip.is_some_and(|f| f[t]);
    let (w, r) = (geo.w, geo.r);
    let values = (3 * (2 * r + 1) * (2 * r + 1)) as f32;
    let mut ds: Vec<f32> = field
        .dist
        .iter()
        .zip(&field.src)
        .enumerate()
        .filter(|&(t, (_, &s))| s != NONE && !skipped(t))
        .map(|(_, (&d, _))| d / values)
        .collect();
    if ds.is_empty() {
        return;
    }
    let k = ds.len() * 3 / 4;
    let sigma2 = ds
        .select_nth_unstable_by(k, |a, b| a.total_cmp(b))
        .1
        .max(1.0);
    let weight: Vec<f32> = field
        .dist
        .par_iter()
        .map(|&d| (-(d / values) / (2.0 * sigma2)).exp())
        .collect();
    let old = level.px.clone();
    let hole = &level.hole;
    let (ri, h) = (r as isize, geo.h);
    level
        .px
        .par_chunks_mut(3 * w)
        .enumerate()
        .for_each(|(y, row)| {
            for x in 0..w {
                if !hole[y * w + x] {
                    continue;
                }
                let (mut acc, mut wsum) = ([0f32; 3], 0f32);
                let (mut plain, mut n) = ([0f32; 3], 0f32);
                for dy in -ri..=ri {
                    let ty = y as isize + dy;
                    if ty < ri || ty >= (h - r) as isize {
                        continue;
                    }
                    for dx in -ri..=ri {
                        let tx = x as isize + dx;
                        if tx < ri || tx >= (w - r) as isize {
                            continue;
                        }
                        let t = ty as usize * w + tx as usize;
                        let s = field.src[t];
                        if s == NONE || skipped(t) {
                            continue;
                        }
                        let q = (s as isize - dy * w as isize - dx) as usize;
                        let c = &old[3 * q..3 * q + 3];
                        let wt = weight[t];
                        for k in 0..3 {
                            acc[k] += wt * c[k];
                            plain[k] += c[k];
                        }
                        wsum += wt;
                        n += 1.0;
                    }
                }
                // All weights can underflow when every covering match is poor: plain mean.
                let out = if wsum > 1e-20 {
                    acc.map(|v| v / wsum)
                } else if n > 0.0 {
                    plain.map(|v| v / n)
                } else {
                    continue;
                };
                row[3 * x..3 * x + 3].copy_from_slice(&out);
            }
        });
}

/// Patch radius for a level: the fine patch on large levels, the coarse one below.
fn radius_for(level: &Level, params: &PatchMatchParams) -> usize {
    let size = if level.w.min(level.h) >= FINE_SIDE {
        params.patch_size
    } else {
        params.coarse_patch_size
    };
    (size.max(3) / 2).max(1)
}

/// EM iterations at level `l` of `n` (0 finest): `em_iters_coarse` at the coarsest, linearly
/// down to `em_iters_fine` at the finest.
fn em_iters(l: usize, n: usize, params: &PatchMatchParams) -> usize {
    if n <= 1 {
        return params.em_iters_fine.max(1);
    }
    let t = l as f64 / (n - 1) as f64;
    let (f, c) = (params.em_iters_fine as f64, params.em_iters_coarse as f64);
    ((f + (c - f) * t).round() as usize).max(1)
}

/// Fills the hole of every level, coarsest first, leaving the result in `levels[0]`.
pub(super) fn complete(
    levels: &mut [Level],
    params: &PatchMatchParams,
    cancel: &dyn Fn() -> bool,
) -> Result<(), InpaintError> {
    let n = levels.len();
    let check = || {
        if cancel() {
            Err(InpaintError::Cancelled)
        } else {
            Ok(())
        }
    };
    let last = n - 1;
    diffusion::init_with_mean(&mut levels[last]);
    diffusion::relax(&mut levels[last], INIT_SWEEPS);
    let mut previous: Option<(Geometry, Field)> = None;
    for l in (0..n).rev() {
        check()?;
        if l < last {
            let (fine, coarse) = levels.split_at_mut(l + 1);
            fine[l].init_hole_from(&coarse[0]);
        }
        let level = &mut levels[l];
        // The largest patch with sources here; none at all: the membrane guess stays.
        let r0 = radius_for(level, params);
        let Some(geo) = (1..=r0).rev().find_map(|r| Geometry::new(level, r)) else {
            diffusion::relax(level, INIT_SWEEPS);
            previous = None;
            continue;
        };
        let seed = |parts: &[u64]| stream_seed(params.seed, parts).next_u64();
        let (mut field, fresh) = match &previous {
            Some((cgeo, cfield)) => {
                upsample_field(&geo, cgeo, cfield, &level.px, seed(&[l as u64]))
            }
            None => (
                random_field(&geo, &level.px, seed(&[l as u64])),
                vec![true; level.w * level.h],
            ),
        };
        // The hole's first estimate here is the coarse level's, upsampled: blurred, and
        // searching against it would pull every match towards flat sources (texture never
        // comes back). Voting with the carried matches first puts this level's own source
        // pixels in the hole, the texture the coarse level chose. Fresh targets' random
        // matches do not vote: they averaged patches from anywhere in the image into the
        // hole's first estimate wherever the hole first appears at this level (a limb too
        // thin to be a hole below it; most of a texture fill's small target).
        if previous.is_some() {
            vote(&geo, level, &field, Some(&fresh));
        }
        let any_fresh = fresh.iter().zip(&geo.active).any(|(&f, &a)| f && a);
        let passes = if l == 0 && n > 1 {
            params.fine_search_passes
        } else {
            params.search_passes
        };
        for em in 0..em_iters(l, n, params) {
            // A fresh target's first search (at the coarsest level, every target's) sees only
            // what is known around the hole: its first estimate there is smooth.
            let cmp = if em == 0 && any_fresh {
                Compare::Known {
                    hole: &level.hole,
                    fresh: &fresh,
                }
            } else {
                Compare::Whole
            };
            // The image changed under the field (a vote before), or fresh targets compare
            // otherwise now: one refresh, by this search's comparison.
            if em > 0 || previous.is_some() || any_fresh {
                refresh_distances_by(&geo, &level.px, &mut field, cmp);
            }
            for pass in 0..passes.max(1) {
                check()?;
                let s = seed(&[l as u64, em as u64, pass as u64, 1]);
                search_pass(&geo, &level.px, &mut field, s, pass % 2 == 1, cmp);
            }
            check()?;
            vote(&geo, level, &field, None);
        }
        if l == 0 && params.sharp_finish {
            copy_centres(level, &field);
        }
        previous = Some((geo, field));
    }
    Ok(())
}

/// Each hole pixel whose own patch has a match becomes that match's centre pixel: no
/// averaging, so fine texture stays as sharp as its source ([`PatchMatchParams::sharp_finish`]).
fn copy_centres(level: &mut Level, field: &Field) {
    let old = level.px.clone();
    for (t, &s) in field.src.iter().enumerate() {
        if s != NONE && level.hole[t] {
            let s = s as usize;
            level.px[3 * t..3 * t + 3].copy_from_slice(&old[3 * s..3 * s + 3]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 9×9 grey ramp (value 10·x) with one hole pixel at (4, 4), first estimated as 77, and
    /// a field sending every target (the 3×3 patch centres around it) to the source centre
    /// (1, 1).
    fn one_hole() -> (Level, Geometry, Field) {
        let img = image::RgbImage::from_fn(9, 9, |x, _| image::Rgb([(10 * x) as u8; 3]));
        let mut hole = vec![false; 81];
        hole[4 * 9 + 4] = true;
        let mut level = Level::from_image(&img, &hole);
        level.px[3 * 40..3 * 40 + 3].copy_from_slice(&[77.0; 3]);
        let geo = Geometry::new(&level, 1).expect("sources");
        let src = (0..81)
            .map(|i| if geo.active[i] { 9 + 1 } else { NONE })
            .collect();
        let mut field = Field {
            src,
            dist: vec![f32::INFINITY; 81],
        };
        refresh_distances(&geo, &level.px, &mut field);
        (level, geo, field)
    }

    #[test]
    fn fresh_targets_do_not_vote() {
        // Every covering target fresh: the pixel keeps its first estimate.
        let (mut level, geo, field) = one_hole();
        vote(&geo, &mut level, &field, Some(&geo.active));
        assert_eq!(level.rgb(40), [77.0; 3]);
        // Only the centred target carried: the pixel is its source's centre, (1, 1) = 10.
        let (mut level, geo, field) = one_hole();
        let mut fresh = geo.active.clone();
        fresh[40] = false;
        vote(&geo, &mut level, &field, Some(&fresh));
        assert_eq!(level.rgb(40), [10.0; 3]);
        // None skipped: the mean over the nine targets' shifted sources (columns 0..=2).
        let (mut level, geo, field) = one_hole();
        vote(&geo, &mut level, &field, None);
        let v = level.rgb(40)[0];
        assert!((0.0..=20.0).contains(&v) && v != 77.0, "{v}");
    }

    #[test]
    fn a_fresh_target_is_compared_on_its_known_pixels_only() {
        let (level, _, _) = one_hole();
        let mut fresh = vec![false; 81];
        fresh[40] = true;
        let cmp = Compare::Known {
            hole: &level.hole,
            fresh: &fresh,
        };
        // Source (4, 1) has the target (4, 4)'s known pixels exactly; the hole's 77 is not
        // compared for the fresh target, and is for a carried one.
        let s = 9 + 4;
        assert_eq!(cmp.ssd(&level.px, 9, 1, 40, s, f32::INFINITY), 0.0);
        let whole = Compare::Whole.ssd(&level.px, 9, 1, 40, s, f32::INFINITY);
        assert_eq!(whole, 3.0 * (77.0f32 - 40.0).powi(2));
        fresh[40] = false;
        let cmp = Compare::Known {
            hole: &level.hole,
            fresh: &fresh,
        };
        assert_eq!(cmp.ssd(&level.px, 9, 1, 40, s, f32::INFINITY), whole);
    }
}
