//! Competing geodesic fronts over an image: which seed label reaches each pixel first, when a
//! step costs its length (per label) plus how much the colour changes across it.
//!
//! This is how [`crate::puppet`] says which body part a photo's pixel belongs to *inside the
//! person's matte*: a straight-line distance to the bones gives a forearm lying on the chest the
//! chest's pixels beside it, a front that pays for crossing the sleeve's edge stops there.
//! (Dijkstra on the 8-neighbour grid with a binary heap; fronts meeting settle each pixel once,
//! so the cost is O(n log n) for n pixels of the domain.)

use image::RgbImage;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A seed: pixel index (row-major), its label and the cost it starts with (a head start is a
/// lower cost). Costs must be finite and ≥ 0.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Seed {
    pub index: usize,
    pub label: u16,
    pub cost: f32,
}

/// How a front pays for a step.
#[derive(Clone, Debug, PartialEq)]
pub struct FrontCosts {
    /// Per label, the cost of one pixel of length (a label whose unit is its part's radius
    /// pays 1/radius).
    pub per_pixel: Vec<f32>,
    /// Cost per unit of colour change across a step (RGB distance of 0..1 channels).
    pub per_colour: f32,
}

/// The label that reaches each pixel first, and at what cost; `None` outside `domain` or where
/// no front reaches (a region of the domain with no seed). Seeds outside the domain or with a
/// label without a cost are ignored.
pub fn competing_fronts(
    image: &RgbImage,
    domain: &[bool],
    seeds: &[Seed],
    costs: &FrontCosts,
) -> Vec<Option<(u16, f32)>> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let n = w * h;
    assert_eq!(domain.len(), n, "domain of {} for {w}×{h}", domain.len());
    let px = image.as_raw();
    let colour_step = |a: usize, b: usize| -> f32 {
        let d2: f32 = (0..3)
            .map(|c| {
                let d = (px[3 * a + c] as f32 - px[3 * b + c] as f32) / 255.0;
                d * d
            })
            .sum();
        d2.sqrt()
    };
    let mut out: Vec<Option<(u16, f32)>> = vec![None; n];
    let mut heap = BinaryHeap::new();
    for s in seeds {
        let live = s.index < n
            && domain[s.index]
            && s.cost.is_finite()
            && s.cost >= 0.0
            && (s.label as usize) < costs.per_pixel.len();
        if live {
            heap.push(Front(s.cost, s.index as u32, s.label));
        }
    }
    const DIAGONAL: f32 = std::f32::consts::SQRT_2;
    while let Some(Front(cost, i, label)) = heap.pop() {
        let i = i as usize;
        if out[i].is_some() {
            continue;
        }
        out[i] = Some((label, cost));
        let (x, y) = ((i % w) as isize, (i / w) as isize);
        let step = costs.per_pixel[label as usize];
        for (dx, dy) in [
            (-1, 0),
            (1, 0),
            (0, -1),
            (0, 1),
            (-1, -1),
            (1, -1),
            (-1, 1),
            (1, 1),
        ] {
            let (nx, ny) = (x + dx, y + dy);
            if nx < 0 || ny < 0 || nx >= w as isize || ny >= h as isize {
                continue;
            }
            let j = ny as usize * w + nx as usize;
            if !domain[j] || out[j].is_some() {
                continue;
            }
            let len = if dx != 0 && dy != 0 { DIAGONAL } else { 1.0 };
            let c = cost + step * len + costs.per_colour * colour_step(i, j);
            heap.push(Front(c, j as u32, label));
        }
    }
    out
}

/// A heap entry, cheapest first.
struct Front(f32, u32, u16);

impl PartialEq for Front {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Front {}
impl PartialOrd for Front {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Front {
    /// Reversed (the heap is a max-heap); ties by index then label, so results do not depend
    /// on the order seeds were given in.
    fn cmp(&self, o: &Self) -> Ordering {
        o.0.total_cmp(&self.0)
            .then(o.1.cmp(&self.1))
            .then(o.2.cmp(&self.2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(w: u32, h: u32) -> RgbImage {
        RgbImage::from_pixel(w, h, image::Rgb([100, 100, 100]))
    }

    fn seed(index: usize, label: u16) -> Seed {
        Seed {
            index,
            label,
            cost: 0.0,
        }
    }

    #[test]
    fn on_a_flat_image_the_cost_is_the_chamfer_distance_and_fronts_meet_halfway() {
        let (w, h) = (21usize, 5usize);
        let img = flat(w as u32, h as u32);
        let costs = FrontCosts {
            per_pixel: vec![1.0, 1.0],
            per_colour: 10.0,
        };
        let out = competing_fronts(
            &img,
            &vec![true; w * h],
            &[seed(2 * w, 0), seed(2 * w + 20, 1)],
            &costs,
        );
        for x in 0..w {
            let (label, cost) = out[2 * w + x].unwrap();
            assert_eq!(label, if x <= 10 { 0 } else { 1 }, "x = {x}");
            let want = if x <= 10 { x } else { 20 - x } as f32;
            assert!((cost - want).abs() < 1e-5, "x = {x}: {cost}");
        }
        // A diagonal step costs √2.
        let (_, c) = out[w + 1].unwrap();
        assert!((c - std::f32::consts::SQRT_2).abs() < 1e-5, "{c}");
    }

    #[test]
    fn a_colour_edge_stops_a_front_and_a_cheaper_unit_reaches_farther() {
        // Left third dark, the rest light; label 0 seeded in the dark, label 1 at the far end.
        let (w, h) = (30usize, 3usize);
        let mut img = flat(w as u32, h as u32);
        for y in 0..h as u32 {
            for x in 0..10 {
                img.put_pixel(x, y, image::Rgb([20, 20, 20]));
            }
        }
        let all = vec![true; w * h];
        let seeds = [seed(w, 0), seed(w + 29, 1)];
        let mut costs = FrontCosts {
            per_pixel: vec![1.0, 1.0],
            per_colour: 100.0,
        };
        let out = competing_fronts(&img, &all, &seeds, &costs);
        let labels: Vec<u16> = (0..w).map(|x| out[w + x].unwrap().0).collect();
        assert!(labels[..10].iter().all(|&l| l == 0), "{labels:?}");
        assert!(labels[10..].iter().all(|&l| l == 1), "{labels:?}");
        // No colour cost: halfway (x ≤ 14 for label 0).
        costs.per_colour = 0.0;
        let out = competing_fronts(&img, &all, &seeds, &costs);
        assert_eq!(out[w + 14].unwrap().0, 0);
        assert_eq!(out[w + 15].unwrap().0, 1);
        // Label 0 paying a quarter per pixel reaches 4× as far as label 1 from its seed.
        costs.per_pixel = vec![0.25, 1.0];
        let out = competing_fronts(&img, &all, &seeds, &costs);
        assert_eq!(out[w + 23].unwrap().0, 0);
        assert_eq!(out[w + 24].unwrap().0, 1);
    }

    #[test]
    fn fronts_stay_in_their_domain_and_a_head_start_counts() {
        // A wall at x = 5 with no gap: the right side is unreachable from a seed on the left.
        let (w, h) = (11usize, 4usize);
        let img = flat(w as u32, h as u32);
        let domain: Vec<bool> = (0..w * h).map(|i| i % w != 5).collect();
        let costs = FrontCosts {
            per_pixel: vec![1.0, 1.0],
            per_colour: 0.0,
        };
        let out = competing_fronts(&img, &domain, &[seed(0, 0)], &costs);
        assert!(out[5].is_none() && out[6].is_none() && out[w + 10].is_none());
        assert!(out[4].is_some());
        // Two seeds in one row; label 0 starting 3 dearer: the meeting point moves 1.5 towards it.
        let domain = vec![true; w * h];
        let seeds = [
            seed(0, 0),
            Seed {
                index: 10,
                label: 1,
                cost: 0.0,
            },
            Seed {
                index: 0,
                label: 1,
                cost: 50.0,
            },
        ];
        let even = competing_fronts(&img, &domain, &seeds[..2], &costs);
        assert_eq!(even[5].unwrap().0, 0, "a tie goes to the lower label");
        let mut early = seeds;
        early[0].cost = 3.0;
        let out = competing_fronts(&img, &domain, &early, &costs);
        assert_eq!(out[4].unwrap().0, 1);
        assert_eq!(out[3].unwrap().0, 0);
        assert_eq!(
            out[0].unwrap(),
            (0, 3.0),
            "the cheaper of two seeds on one pixel"
        );
    }
}
