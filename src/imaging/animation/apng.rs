//! APNG: lossless frames with the png crate. The first frame is whole (it is also the still
//! image non-APNG viewers show); each later one is only the rectangle that changed, written
//! over the previous frame (dispose none, blend source), with an exact rational delay.

use super::{changed_rect, fps_ratio, ratio_near, AnimOptions, FrameStore, Rect};
use anyhow::Result;
use image::RgbImage;
use std::io::Write;

pub(super) fn encode(store: &mut FrameStore, opts: &AnimOptions, out: impl Write) -> Result<()> {
    let (width, height) = (store.width, store.height);
    let runs = store.runs().to_vec();
    let (fps_num, fps_den) = fps_ratio(opts.fps);
    let mut enc = png::Encoder::new(out, width, height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    // num_plays 0 is "forever".
    enc.set_animated(runs.len() as u32, if opts.loop_forever { 0 } else { 1 })?;
    let mut writer = enc.write_header()?;
    let mut prev: Option<RgbImage> = None;
    for (frame, run) in store.frames()?.zip(runs) {
        let frame = frame?;
        let (num, den) = delay(run, fps_num, fps_den);
        writer.set_frame_delay(num, den)?;
        writer.set_dispose_op(png::DisposeOp::None)?;
        writer.set_blend_op(png::BlendOp::Source)?;
        // The store folds identical neighbours, so a later frame always has a change; the
        // fallback only keeps an (impossible) identical frame valid.
        let rect = match &prev {
            None => Rect::full(&frame),
            Some(p) => changed_rect(p, &frame).unwrap_or(Rect {
                x: 0,
                y: 0,
                w: 1,
                h: 1,
            }),
        };
        // Position (0, 0) first: the png crate checks each call against the other's value.
        writer.reset_frame_position()?;
        writer.set_frame_dimension(rect.w, rect.h)?;
        writer.set_frame_position(rect.x, rect.y)?;
        if rect == Rect::full(&frame) {
            writer.write_image_data(frame.as_raw())?;
        } else {
            writer.write_image_data(&crop(&frame, rect))?;
        }
        prev = Some(frame);
    }
    writer.finish()?;
    Ok(())
}

/// `run` frame periods at `fps_num / fps_den` fps as `fcTL`'s u16 fraction of a second: exact
/// when it fits (1/12 s at 12 fps, 3/12 → 1/4 s for a frame held 3 periods), else the closest
/// fraction that does.
fn delay(run: u32, fps_num: u64, fps_den: u64) -> (u16, u16) {
    let (num, den) = (run as u64 * fps_den, fps_num);
    let g = gcd(num, den);
    let (num, den) = (num / g, den / g);
    let (num, den) = if num <= u16::MAX as u64 && den <= u16::MAX as u64 {
        (num, den)
    } else {
        ratio_near(num as f64 / den as f64, 0.0, u16::MAX as u64)
    };
    (num as u16, den as u16)
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a.max(1)
    } else {
        gcd(b, a % b)
    }
}

fn crop(img: &RgbImage, r: Rect) -> Vec<u8> {
    let row = img.width() as usize * 3;
    let (x0, x1) = (r.x as usize * 3, (r.x + r.w) as usize * 3);
    img.as_raw()
        .chunks(row)
        .skip(r.y as usize)
        .take(r.h as usize)
        .flat_map(|line| &line[x0..x1])
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_are_exact_fractions() {
        assert_eq!(delay(1, 12, 1), (1, 12));
        assert_eq!(delay(3, 12, 1), (1, 4));
        let (n, d) = fps_ratio(29.97);
        assert_eq!((n, d), (2997, 100));
        assert_eq!(delay(1, n, d), (100, 2997));
        // Too long for u16 parts: the nearest representable fraction.
        assert_eq!(delay(70_000, 1, 1), (65535, 1));
    }
}
