//! egui textures of the photo, the result and the preview, re-uploaded only when the editor
//! says their content changed.

use crate::app::editor::Editor;
use eframe::egui::{self, ColorImage, TextureHandle, TextureOptions};

/// Photos larger than this per side are shown downscaled (GPU texture limits; the model and the
/// exports still use the full photo).
const MAX_TEXTURE_SIDE: u32 = 4096;

#[derive(Default)]
pub struct Textures {
    pub photo: Option<TextureHandle>,
    pub result: Option<TextureHandle>,
    pub preview: Option<TextureHandle>,
    versions: (u64, u64, u64),
}

impl Textures {
    pub fn update(&mut self, ctx: &egui::Context, editor: &Editor) {
        let photo = editor.photo.as_ref().map(|p| &p.image);
        refresh(
            ctx,
            "photo",
            &mut self.photo,
            &mut self.versions.0,
            editor.photo_version,
            photo,
        );
        let result = editor.result.as_ref().map(|r| &r.image);
        refresh(
            ctx,
            "result",
            &mut self.result,
            &mut self.versions.1,
            editor.result_version,
            result,
        );
        let preview = editor.preview.as_ref().map(|p| &p.image);
        refresh(
            ctx,
            "preview",
            &mut self.preview,
            &mut self.versions.2,
            editor.preview_version,
            preview,
        );
    }
}

/// Re-uploads `slot` from `image` when `version` moved on since `seen`.
fn refresh(
    ctx: &egui::Context,
    name: &str,
    slot: &mut Option<TextureHandle>,
    seen: &mut u64,
    version: u64,
    image: Option<&image::RgbImage>,
) {
    if *seen != version {
        *seen = version;
        *slot = image.map(|img| ctx.load_texture(name, color_image(img), TextureOptions::LINEAR));
    }
}

fn color_image(img: &image::RgbImage) -> ColorImage {
    let (w, h) = img.dimensions();
    let scale = (MAX_TEXTURE_SIDE as f32 / w.max(h) as f32).min(1.0);
    let shown;
    let img = if scale < 1.0 {
        shown = image::imageops::resize(
            img,
            ((w as f32 * scale) as u32).max(1),
            ((h as f32 * scale) as u32).max(1),
            image::imageops::FilterType::Triangle,
        );
        &shown
    } else {
        img
    };
    ColorImage::from_rgb([img.width() as usize, img.height() as usize], img.as_raw())
}
