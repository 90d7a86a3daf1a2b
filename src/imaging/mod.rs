//! Images in and out of the model: fitting a photo around the person ([`fit`]), tensor ↔ image
//! conversion, the reference flow colouring ([`flow_color`]), background plates (filling the
//! person's hole, [`inpaint`]), the person matte ([`matte`]), its edge refinement
//! ([`guided`]) and the person's own colour at its soft edge ([`foreground`]), and atomic image
//! saves (on [`crate::util::fs`]).

pub mod animation;
pub mod draw;
pub mod fit;
pub mod flow_color;
pub mod flow_field;
pub mod foreground;
pub mod geodesic;
pub mod guided;
pub mod inpaint;
pub mod matte;

pub use fit::{FitTransform, FittedPhoto};
pub use flow_color::{flow_tensor_to_color, flow_to_color};
pub use flow_field::{warp_image, FlowField};
pub use guided::GuidedParams;
pub use matte::Matte;

use candle_core::{Device, Result, Tensor};
use image::{GrayImage, RgbImage};
use std::path::Path;

/// The 4-neighbours of pixel `i` of a row-major `w`×`h` grid that lie inside it, in the order
/// left, right, up, down (callers summing over them get the same float sums every time).
#[inline]
pub(crate) fn neighbours4(i: usize, w: usize, h: usize) -> impl Iterator<Item = usize> {
    let (x, y) = (i % w, i / w);
    [
        (x > 0).then(|| i - 1),
        (x + 1 < w).then(|| i + 1),
        (y > 0).then(|| i - w),
        (y + 1 < h).then(|| i + w),
    ]
    .into_iter()
    .flatten()
}

/// `0` below `e0`, `1` above `e1`, the cubic `3t² − 2t³` between.
pub(crate) fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// `v.round().clamp(0.0, 255.0) as u8` (NaN: 0) without the call into libm that `round`
/// compiles to on x86-64's baseline (no SSE4.1 `roundss`): every composited pixel of an edit
/// goes through this. Exact: below 2²³ a float's fraction `v − trunc(v)` is exact, and halves
/// round away from zero as `round` does.
#[inline]
pub(crate) fn to_u8(v: f32) -> u8 {
    if v.is_nan() || v <= 0.0 {
        return 0;
    }
    if v >= 255.0 {
        return 255;
    }
    let t = v as u32;
    (t + (v - t as f32 >= 0.5) as u32) as u8
}

/// `(1, 3, H, W)` in [−1, 1] from an RGB image: `ToTensor` then `(x − 0.5) / 0.5`.
pub fn image_to_tensor(img: &RgbImage, device: &Device) -> Result<Tensor> {
    let (w, h) = img.dimensions();
    let (w, h) = (w as usize, h as usize);
    let mut data = vec![0f32; 3 * h * w];
    for (x, y, p) in img.enumerate_pixels() {
        for c in 0..3 {
            data[c * h * w + y as usize * w + x as usize] = (p[c] as f32 / 255.0 - 0.5) / 0.5;
        }
    }
    Tensor::from_vec(data, (1, 3, h, w), device)
}

/// An RGB image from a `(3, H, W)` or `(1, 3, H, W)` tensor in [−1, 1], converted as the
/// reference saves results: `uint8((x + 1) / 2 · 255)` (truncation, after clamping).
pub fn tensor_to_image(t: &Tensor) -> Result<RgbImage> {
    let t = if t.rank() == 4 { t.get(0)? } else { t.clone() };
    let (c, h, w) = t.dims3()?;
    if c != 3 {
        candle_core::bail!("expected a 3-channel image tensor, got {:?}", t.shape());
    }
    let v = t
        .to_dtype(candle_core::DType::F32)?
        .flatten_all()?
        .to_vec1::<f32>()?;
    Ok(RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let at = |ch: usize| v[ch * h * w + y as usize * w + x as usize];
        image::Rgb([0, 1, 2].map(|ch| (((at(ch) + 1.0) / 2.0).clamp(0.0, 1.0) * 255.0) as u8))
    }))
}

/// A grey image from a `(1, h, w)` / `(1, 1, h, w)` map in [0, 1] (0 = black).
pub fn mask_to_image(t: &Tensor) -> Result<GrayImage> {
    let t = t.flatten_to(t.rank().saturating_sub(3))?;
    let (h, w) = (t.dims()[t.rank() - 2], t.dims()[t.rank() - 1]);
    let v = t.flatten_all()?.to_vec1::<f32>()?;
    Ok(GrayImage::from_fn(w as u32, h as u32, |x, y| {
        image::Luma([(v[y as usize * w + x as usize].clamp(0.0, 1.0) * 255.0).round() as u8])
    }))
}

/// Saves an image atomically (temporary file, then rename); the format follows the extension.
pub fn save_image_atomic<I>(img: &I, path: &Path) -> anyhow::Result<()>
where
    I: image::GenericImageView + ImageSave,
{
    use anyhow::Context;
    let format = image::ImageFormat::from_path(path).with_context(|| {
        format!(
            "{}: unknown image extension (use .png or .jpg)",
            path.display()
        )
    })?;
    let tmp = crate::util::fs::temp_path_for(path);
    let result = img
        .save_as(&tmp, format)
        .with_context(|| format!("writing {}", path.display()))
        .and_then(|_| {
            std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The image buffers we save (RGB results; per-level maps as `DynamicImage`).
pub trait ImageSave {
    fn save_as(&self, path: &Path, format: image::ImageFormat) -> image::ImageResult<()>;
}

impl ImageSave for RgbImage {
    fn save_as(&self, path: &Path, format: image::ImageFormat) -> image::ImageResult<()> {
        self.save_with_format(path, format)
    }
}

impl ImageSave for GrayImage {
    fn save_as(&self, path: &Path, format: image::ImageFormat) -> image::ImageResult<()> {
        self.save_with_format(path, format)
    }
}

impl ImageSave for image::DynamicImage {
    fn save_as(&self, path: &Path, format: image::ImageFormat) -> image::ImageResult<()> {
        self.save_with_format(path, format)
    }
}

/// Opens a photo as RGB with a clear error (unreadable, corrupt, absurdly large).
pub fn open_photo(path: &Path) -> anyhow::Result<RgbImage> {
    use anyhow::Context;
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot open image {}", path.display()))?;
    decode_photo(&bytes, path)
}

/// [`open_photo`] on a file already in memory (`path` names it in errors).
pub fn decode_photo(bytes: &[u8], path: &Path) -> anyhow::Result<RgbImage> {
    use anyhow::Context;
    /// Photos beyond this many pixels per side are refused rather than exhausting memory.
    const MAX_SIDE: u32 = 20_000;
    let reader = || {
        image::ImageReader::new(std::io::Cursor::new(bytes))
            .with_guessed_format()
            .with_context(|| format!("cannot read image {}", path.display()))
    };
    let (w, h) = reader()?.into_dimensions().with_context(|| {
        format!(
            "{} is not a readable image (corrupt or unsupported format)",
            path.display()
        )
    })?;
    if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE {
        anyhow::bail!(
            "{}: image size {w}×{h} is outside 1..={MAX_SIDE} pixels per side",
            path.display()
        );
    }
    // A JPEG codes at least one Huffman symbol (a bit or more) per 8×8 block of its
    // full-resolution component. A file far shorter than that is truncated, and the decoder
    // would fill it out with grey at full size: a 408-byte file decoding to 16724×18756 pixels
    // for 9 s and 1.2 GB (found by fuzz/: tests/data/fuzz/image/). Half that bound, for margin.
    let min_jpeg_bytes = u64::from(w) * u64::from(h) / 1024;
    if bytes.starts_with(&[0xFF, 0xD8]) && (bytes.len() as u64) < min_jpeg_bytes {
        anyhow::bail!(
            "{} is not a readable image (truncated JPEG: {} bytes cannot hold {w}×{h} pixels)",
            path.display(),
            bytes.len()
        );
    }
    if let Some(len) = bad_png_palette(bytes) {
        anyhow::bail!(
            "{} is not a readable image (corrupt PNG: a palette of {len} bytes, not 1 to 256 \
             RGB entries)",
            path.display()
        );
    }
    let img = reader()?.decode().with_context(|| {
        format!(
            "{} is not a readable image (corrupt or unsupported format)",
            path.display()
        )
    })?;
    Ok(img.to_rgb8())
}

/// The length of a PNG's `PLTE` chunk when it is not 1 to 256 RGB entries (3 to 768 bytes, a
/// multiple of 3). The png crate (0.18.1) panics expanding such a palette (found by
/// fuzz/: tests/data/fuzz/image/), so it is refused before decoding. `None` for other files.
fn bad_png_palette(bytes: &[u8]) -> Option<usize> {
    let mut rest = bytes.strip_prefix(b"\x89PNG\r\n\x1a\n")?;
    while rest.len() >= 8 {
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if &rest[4..8] == b"PLTE" && (len == 0 || len > 768 || !len.is_multiple_of(3)) {
            return Some(len);
        }
        // Length, type, data and CRC; a truncated file ends the walk (the decoder reports it).
        rest = rest.get(len.checked_add(12)?..)?;
    }
    None
}

#[cfg(test)]
mod rounding_tests {
    /// Against `round().clamp()` on a dense grid, around every half and at the special values.
    #[test]
    fn to_u8_is_round_then_clamp() {
        let reference = |v: f32| v.round().clamp(0.0, 255.0) as u8;
        let mut values = vec![f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0, 0.0];
        values.extend((-4096..270 * 4096).map(|k| k as f32 / 4096.0));
        for k in -2..600 {
            let half = k as f32 * 0.5;
            values.extend([half, half.next_up(), half.next_down()]);
        }
        for v in values {
            assert_eq!(super::to_u8(v), reference(v), "{v:e}");
        }
    }
}
