//! The membrane (Laplace) fill: every hole pixel becomes the mean of its four neighbours, the
//! harmonic interpolation of the hole's boundary that Telea's fast marching approximates in one
//! pass. Solved coarse to fine (the coarsest level to convergence, each finer level from its
//! upsampled guess with a few sweeps), so a person-sized hole converges in tens of sweeps
//! instead of the tens of thousands plain relaxation needs at full resolution.

use rayon::prelude::*;

use super::pyramid::Level;

/// Over-relaxation factor of the red-black sweeps (1 = Gauss-Seidel; < 2 converges).
const OMEGA: f32 = 1.8;

/// Fills `levels[0]`'s hole in place; `levels` is a pyramid, finest first, whose coarsest level
/// has at least one known pixel. Every level's hole is filled on the way.
pub(super) fn fill(levels: &mut [Level], coarsest_sweeps: usize, fine_sweeps: usize) {
    let Some(last) = levels.len().checked_sub(1) else {
        return;
    };
    init_with_mean(&mut levels[last]);
    relax(&mut levels[last], coarsest_sweeps);
    for l in (0..last).rev() {
        let (fine, coarse) = levels.split_at_mut(l + 1);
        fine[l].init_hole_from(&coarse[0]);
        relax(&mut fine[l], fine_sweeps);
    }
}

/// Hole pixels start at the mean colour of the known ones (the coarsest level's first guess).
pub(super) fn init_with_mean(level: &mut Level) {
    let mut acc = [0f64; 3];
    let mut n = 0usize;
    for i in (0..level.w * level.h).filter(|&i| !level.hole[i]) {
        (0..3).for_each(|k| acc[k] += level.px[3 * i + k] as f64);
        n += 1;
    }
    let mean = acc.map(|v| (v / n.max(1) as f64) as f32);
    for i in 0..level.w * level.h {
        if level.hole[i] {
            level.px[3 * i..3 * i + 3].copy_from_slice(&mean);
        }
    }
}

/// `sweeps` red-black SOR sweeps of the 4-neighbour Laplace equation over the hole (neighbours
/// outside the image are left out: a free boundary there). Pixels of one colour only read the
/// other colour, so each half-sweep is computed in parallel and then written. Each hole pixel's
/// neighbours are listed once, before the sweeps (hundreds of them on a small level): finding
/// them per visit took two integer divisions, most of a sweep's time.
pub(super) fn relax(level: &mut Level, sweeps: usize) {
    let (w, h) = (level.w, level.h);
    let colours: [Vec<Cell>; 2] = [0, 1].map(|c| {
        (0..w * h)
            .filter(|&i| level.hole[i] && (i % w + i / w) % 2 == c)
            .map(|i| Cell::new(i, w, h))
            .collect()
    });
    let mut updates = vec![[0f32; 3]; colours[0].len().max(colours[1].len())];
    for _ in 0..sweeps {
        for cells in &colours {
            let px = &level.px;
            let updates = &mut updates[..cells.len()];
            if cells.len() < PARALLEL_FROM {
                // A coarse level or a small hole: hundreds of half-sweeps of a few hundred
                // pixels, where handing each to the thread pool costs more than the sums.
                for (v, cell) in updates.iter_mut().zip(cells) {
                    *v = cell.relaxed(px);
                }
            } else {
                updates
                    .par_iter_mut()
                    .zip(cells)
                    .with_min_len(PARALLEL_FROM / 2)
                    .for_each(|(v, cell)| *v = cell.relaxed(px));
            }
            for (cell, v) in cells.iter().zip(updates.iter()) {
                let i = cell.i as usize;
                level.px[3 * i..3 * i + 3].copy_from_slice(v);
            }
        }
    }
}

/// Half-sweeps over fewer pixels than this run on the calling thread.
const PARALLEL_FROM: usize = 8192;

/// A hole pixel and its neighbours inside the image, in [`crate::imaging::neighbours4`]'s order
/// (the same float sums as before they were listed).
struct Cell {
    i: u32,
    n: u8,
    nb: [u32; 4],
}

impl Cell {
    fn new(i: usize, w: usize, h: usize) -> Self {
        let mut cell = Cell {
            i: i as u32,
            n: 0,
            nb: [0; 4],
        };
        for j in crate::imaging::neighbours4(i, w, h) {
            cell.nb[cell.n as usize] = j as u32;
            cell.n += 1;
        }
        cell
    }

    /// The over-relaxed update of this pixel from its neighbours' current values.
    #[inline]
    fn relaxed(&self, px: &[f32]) -> [f32; 3] {
        let i = self.i as usize;
        let old = [px[3 * i], px[3 * i + 1], px[3 * i + 2]];
        if self.n == 0 {
            return old; // a 1×1 image: nothing to relax towards
        }
        let mut acc = [0f32; 3];
        for &j in &self.nb[..self.n as usize] {
            let j = j as usize;
            (0..3).for_each(|k| acc[k] += px[3 * j + k]);
        }
        let n = self.n as f32;
        [0, 1, 2].map(|k| old[k] + OMEGA * (acc[k] / n - old[k]))
    }
}
