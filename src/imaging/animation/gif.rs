//! Animated GIF with one palette for the whole clip.
//!
//! * **Palette**: the gif crate's `Frame::from_rgb` quantises each frame on its own, so a static
//!   background gets slightly different colours every frame and flickers. Instead NeuQuant
//!   (`color_quant`) learns 255 colours from pixels sampled across all frames (each frame
//!   weighted by how long it is shown), refined by two k-means passes over the same sample
//!   (NeuQuant's colours are a good start, not the centroids of the pixels they stand for);
//!   index 255 is reserved for "transparent".
//! * **Frame diffing**: after the first frame only the bounding box of changed pixels is
//!   encoded, unchanged pixels inside it as the transparent index over the kept previous frame
//!   (disposal "keep"): static regions are bit-identical between displayed frames, and smaller.
//! * **Dithering** (optional): serpentine Floyd–Steinberg over the changed pixels only; error
//!   reaching an unchanged pixel is dropped, so dithering never shimmers in static regions.
//! * **Timing**: delays are whole centiseconds; each frame ends at the rounded exact time of its
//!   end, so rounding errors do not accumulate and the total duration is right.
//!
//! Frames are independent once the palette is known (each depends on its own input and the
//! previous input only), so batches of them are quantised and LZW-compressed in parallel.

use super::{changed_rect, fps_ratio, AnimOptions, FrameStore, Rect};
use anyhow::Result;
use image::RgbImage;
use rayon::prelude::*;
use std::borrow::Cow;
use std::io::Write;

/// The palette index that means "keep the previous frame's pixel".
const TRANSPARENT: u8 = 255;
/// Pixels sampled for the palette, over the whole clip.
const SAMPLE_BUDGET: usize = 1 << 18;
/// GIF delays are u16 centiseconds; a longer hold continues in an empty frame.
const MAX_DELAY_CS: u64 = u16::MAX as u64;

pub(super) fn encode(store: &mut FrameStore, opts: &AnimOptions, out: impl Write) -> Result<()> {
    let (width, height) = (store.width, store.height);
    let runs = store.runs().to_vec();
    let palette = Palette::new(&build_palette(store, &runs)?);
    let mut table = palette
        .colors
        .iter()
        .flatten()
        .copied()
        .collect::<Vec<u8>>();
    table.resize(256 * 3, 0); // the transparent entry's colour is never shown
    let mut enc = ::gif::Encoder::new(out, width as u16, height as u16, &table)?;
    if opts.loop_forever {
        enc.set_repeat(::gif::Repeat::Infinite)?;
    }

    let (fps_num, fps_den) = fps_ratio(opts.fps);
    // End of `periods` frame periods in whole centiseconds: round(periods · 100 / fps).
    let end_cs = |periods: u64| {
        let n = periods as u128 * 100 * fps_den as u128;
        ((2 * n + fps_num as u128) / (2 * fps_num as u128)) as u64
    };
    let (mut periods, mut shown_cs) = (0u64, 0u64);

    // Frames in flight at once: enough to keep every core busy, few enough for memory.
    let frame_bytes = width as usize * height as usize * 3;
    let batch = (rayon::current_num_threads() * 2).clamp(1, ((256 << 20) / frame_bytes).max(1));
    let mut frames = store.frames()?;
    let mut prev: Option<RgbImage> = None;
    let mut index = 0;
    loop {
        let inputs = frames.by_ref().take(batch).collect::<Result<Vec<_>>>()?;
        if inputs.is_empty() {
            break;
        }
        let encoded = (0..inputs.len())
            .into_par_iter()
            .map(|i| {
                let before = if i == 0 {
                    prev.as_ref()
                } else {
                    Some(&inputs[i - 1])
                };
                encode_frame(before, &inputs[i], &palette, opts.dither)
            })
            .collect::<Vec<_>>();
        for mut frame in encoded {
            periods += runs[index] as u64;
            index += 1;
            let mut delay = end_cs(periods) - shown_cs;
            shown_cs += delay;
            frame.delay = delay.min(MAX_DELAY_CS) as u16;
            enc.write_lzw_pre_encoded_frame(&frame)?;
            while delay > MAX_DELAY_CS {
                delay -= MAX_DELAY_CS;
                let mut hold = empty_frame();
                hold.delay = delay.min(MAX_DELAY_CS) as u16;
                enc.write_lzw_pre_encoded_frame(&hold)?;
            }
        }
        prev = inputs.into_iter().last();
    }
    enc.into_inner()?.flush()?;
    Ok(())
}

/// A 1×1 frame that changes nothing: carries the rest of a hold longer than a GIF delay allows.
fn empty_frame() -> ::gif::Frame<'static> {
    let mut f = ::gif::Frame {
        width: 1,
        height: 1,
        transparent: Some(TRANSPARENT),
        buffer: Cow::Owned(vec![TRANSPARENT]),
        ..Default::default()
    };
    f.make_lzw_pre_encoded();
    f
}

/// One frame, LZW-compressed: whole if it is the first, else the changed rectangle with
/// unchanged pixels transparent.
fn encode_frame(
    prev: Option<&RgbImage>,
    cur: &RgbImage,
    palette: &Palette,
    dither: bool,
) -> ::gif::Frame<'static> {
    let rect = match prev {
        None => Rect::full(cur),
        Some(p) => match changed_rect(p, cur) {
            Some(r) => r,
            // The store folds identical frames; an identical one would only need a delay.
            None => return empty_frame(),
        },
    };
    let indices = quantise(cur, prev, rect, palette, dither);
    let mut frame = ::gif::Frame {
        left: rect.x as u16,
        top: rect.y as u16,
        width: rect.w as u16,
        height: rect.h as u16,
        dispose: ::gif::DisposalMethod::Keep,
        transparent: prev.map(|_| TRANSPARENT),
        buffer: Cow::Owned(indices),
        ..Default::default()
    };
    frame.make_lzw_pre_encoded();
    frame
}

/// Palette indices of `rect` of `cur`; pixels equal in `prev` become [`TRANSPARENT`]. With
/// `dither`, serpentine Floyd–Steinberg (7/16 ahead, 3/16 behind below, 5/16 below, 1/16 ahead
/// below) in sixteenths, diffused among changed pixels only.
fn quantise(
    cur: &RgbImage,
    prev: Option<&RgbImage>,
    rect: Rect,
    palette: &Palette,
    dither: bool,
) -> Vec<u8> {
    let (rw, rh) = (rect.w as usize, rect.h as usize);
    let mut out = vec![TRANSPARENT; rw * rh];
    // Error rows with one pixel of margin each side, so neighbours need no bounds checks.
    let mut err_cur = vec![[0i32; 3]; rw + 2];
    let mut err_next = vec![[0i32; 3]; rw + 2];
    for ry in 0..rh {
        let y = rect.y + ry as u32;
        let leftward = dither && ry % 2 == 1;
        for step in 0..rw {
            let rx = if leftward { rw - 1 - step } else { step };
            let x = rect.x + rx as u32;
            let p = cur.get_pixel(x, y).0;
            let e = std::mem::take(&mut err_cur[rx + 1]);
            if prev.is_some_and(|prev| prev.get_pixel(x, y).0 == p) {
                continue; // transparent; the error that reached it is dropped
            }
            if !dither {
                out[ry * rw + rx] = palette.nearest(p);
                continue;
            }
            let want = [0, 1, 2].map(|c| (p[c] as i32 + ((e[c] + 8) >> 4)).clamp(0, 255));
            let idx = palette.nearest(want.map(|v| v as u8));
            out[ry * rw + rx] = idx;
            let got = palette.colors[idx as usize];
            let (ahead, behind) = if leftward { (rx, rx + 2) } else { (rx + 2, rx) };
            for c in 0..3 {
                let d = want[c] - got[c] as i32;
                err_cur[ahead][c] += 7 * d;
                err_next[behind][c] += 3 * d;
                err_next[rx + 1][c] += 5 * d;
                err_next[ahead][c] += d;
            }
        }
        std::mem::swap(&mut err_cur, &mut err_next);
        err_next.fill([0; 3]);
    }
    out
}

/// 255 colours for the clip: NeuQuant on a sample of all frames, then k-means on that sample.
fn build_palette(store: &mut FrameStore, runs: &[u32]) -> Result<Vec<[u8; 3]>> {
    let area = store.width as usize * store.height as usize;
    let total: u64 = runs.iter().map(|&r| r as u64).sum();
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    // Every frame gets a few samples however briefly it is shown, at most a quarter of the
    // budget in all, so a flash of colour still gets a palette entry near it.
    let floor = (SAMPLE_BUDGET / (4 * runs.len().max(1))).clamp(64, 1024);
    let mut sample = Vec::new(); // RGBA, as NeuQuant wants
    for (frame, &run) in store.frames()?.zip(runs) {
        let frame = frame?;
        let share = (SAMPLE_BUDGET as u64 * run as u64 / total) as usize;
        let n = share.max(floor).min(area);
        let raw = frame.as_raw();
        for k in 0..n {
            // Every pixel when the budget allows; else random ones (a regular stride could
            // alias with the image's rows and columns).
            let i = if n == area {
                k
            } else {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                (rng % area as u64) as usize
            };
            sample.extend_from_slice(&[raw[3 * i], raw[3 * i + 1], raw[3 * i + 2], 255]);
        }
    }
    let nq = color_quant::NeuQuant::new(3, 255, &sample);
    let mut colors = nq
        .color_map_rgb()
        .chunks(3)
        .map(|c| [c[0], c[1], c[2]])
        .collect::<Vec<_>>();
    for _ in 0..2 {
        let palette = Palette::new(&colors);
        let mut sums = vec![[0u64; 4]; colors.len()];
        for px in sample.chunks(4) {
            let s = &mut sums[palette.nearest([px[0], px[1], px[2]]) as usize];
            (0..3).for_each(|c| s[c] += px[c] as u64);
            s[3] += 1;
        }
        for (color, s) in colors.iter_mut().zip(&sums) {
            if s[3] > 0 {
                *color = [0, 1, 2].map(|c| ((s[c] + s[3] / 2) / s[3]) as u8);
            }
        }
    }
    Ok(colors)
}

/// Exact nearest-colour search through a 16×16×16 grid over RGB: each cell lists the colours
/// that can be nearest to some point in it (those no farther from the cell than the best
/// colour's farthest distance to it), typically a dozen of the 255. (NeuQuant's own search
/// stops both directions of its green-sorted scan when one of them does, so it can miss the
/// nearest colour; a plain scan is 255 distances per pixel.)
struct Palette {
    colors: Vec<[u8; 3]>,
    /// Candidates of cell `i` are `candidates[starts[i]..starts[i + 1]]`.
    candidates: Vec<u8>,
    starts: Vec<u32>,
}

/// Cell side in levels per channel (16 cells per channel).
const CELL: i32 = 16;

fn cell_of(p: [u8; 3]) -> usize {
    (p[0] as usize >> 4) << 8 | (p[1] as usize >> 4) << 4 | p[2] as usize >> 4
}

impl Palette {
    fn new(colors: &[[u8; 3]]) -> Palette {
        let (mut candidates, mut starts) = (Vec::new(), vec![0u32]);
        let mut near = vec![0i32; colors.len()];
        for cell in 0..4096usize {
            let lo = [cell >> 8, (cell >> 4) & 15, cell & 15].map(|v| v as i32 * CELL);
            let mut bound = i32::MAX;
            for (c, d_near) in colors.iter().zip(&mut near) {
                let (mut d_far, mut d_in) = (0, 0);
                for k in 0..3 {
                    let v = c[k] as i32;
                    let (a, b) = (lo[k], lo[k] + CELL - 1);
                    let far = (v - a).abs().max((v - b).abs());
                    let out = (a - v).max(v - b).max(0);
                    d_far += far * far;
                    d_in += out * out;
                }
                bound = bound.min(d_far);
                *d_near = d_in;
            }
            candidates.extend(
                (0..colors.len())
                    .filter(|&i| near[i] <= bound)
                    .map(|i| i as u8),
            );
            starts.push(candidates.len() as u32);
        }
        Palette {
            colors: colors.to_vec(),
            candidates,
            starts,
        }
    }

    fn nearest(&self, p: [u8; 3]) -> u8 {
        let cell = cell_of(p);
        let range = self.starts[cell] as usize..self.starts[cell + 1] as usize;
        let (mut best, mut best_d) = (0u8, i32::MAX);
        for &i in &self.candidates[range] {
            let c = self.colors[i as usize];
            let d = (0..3)
                .map(|k| (c[k] as i32 - p[k] as i32).pow(2))
                .sum::<i32>();
            if d < best_d {
                (best, best_d) = (i, d);
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_colour_is_exact() {
        let mut rng = 12345u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let colors = (0..255)
            .map(|_| [0, 1, 2].map(|_| (next() % 256) as u8))
            .collect::<Vec<_>>();
        let palette = Palette::new(&colors);
        let dist = |a: [u8; 3], b: [u8; 3]| {
            (0..3)
                .map(|k| (a[k] as i32 - b[k] as i32).pow(2))
                .sum::<i32>()
        };
        for _ in 0..20_000 {
            let p = [0, 1, 2].map(|_| (next() % 256) as u8);
            let best = colors.iter().map(|&c| dist(c, p)).min().unwrap();
            assert_eq!(dist(colors[palette.nearest(p) as usize], p), best, "{p:?}");
        }
    }
}
