//! Re-posing a person *inside their photo*, in layers, at the photo's own resolution.
//!
//! Per photo: the photo, the person's matte (alpha, 1 = person) and a background plate (the
//! photo with the person removed and the hole filled). Per edit: a backward flow target →
//! source at photo resolution and, per target pixel, how much the moved figure owns the point
//! it samples ([`crate::puppet::ownership`]). Then
//!
//! * person layer: the photo and its matte warped by the flow; the target person's alpha is the
//!   warped matte times the ownership (so a limb's old place is not person any more);
//! * background: the photo itself, except where the person has left (`vacated` = the source
//!   alpha the target no longer covers, grown by a few pixels to take the soft edge too): there
//!   the plate. Using the photo wherever nothing moved keeps an edit that moves nothing exact
//!   (compositing over the plate everywhere mixes it into the matte's soft edges);
//! * `out = alpha · person + (1 − alpha) · background`.
//!
//! Two sources of flow and ownership: the puppet ([`composite_puppet`]) and a network's finest
//! attention level ([`network`]), which also supplies the pixels the source never showed.
//!
//! Everything here is photo-sized arrays and per-pixel loops over rows (rayon).

mod cloth;
mod colour;
mod hidden;
mod layers;
pub mod network;
pub mod pipeline;
mod puppet;
pub mod refine;
pub mod upsample;
mod vacated;

pub use layers::{build_layers, matte_layers, plate_layers};
pub use network::{composite_network, NetworkEdit, NetworkOutputs};
pub use pipeline::{default_method, Method, DEFAULT_METHOD};
pub use puppet::composite_puppet;
pub use upsample::Placement;

use crate::imaging::FlowField;
use anyhow::{ensure, Result};
use image::{GrayImage, RgbImage};
use rayon::prelude::*;

/// The last value made and what it was made for (a source skeleton, its settings), shared by
/// the layers' copies: what a photo's edits reuse until the source skeleton changes.
#[derive(Debug)]
struct LastMade<K, V>(std::sync::Arc<std::sync::Mutex<Made<K, V>>>);

/// What [`LastMade`] holds: the key and its value, once one was made.
type Made<K, V> = Option<(K, std::sync::Arc<V>)>;

impl<K, V> Default for LastMade<K, V> {
    fn default() -> Self {
        Self(Default::default())
    }
}

/// A copy shares the value (the same photo).
impl<K, V> Clone for LastMade<K, V> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<K: PartialEq, V> LastMade<K, V> {
    /// The value for `key`: the last one if it was made for `key`, else `make`'s (kept).
    fn get_or_make(&self, key: K, make: impl FnOnce(&K) -> V) -> std::sync::Arc<V> {
        let mut last = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((made_for, value)) = last.as_ref() {
            if *made_for == key {
                return value.clone();
            }
        }
        let value = std::sync::Arc::new(make(&key));
        *last = Some((key, value.clone()));
        value
    }
}

/// What is computed once per photo. Read the fields freely but build new layers rather than
/// change these: the puppet keeps a block-averaged copy of them for its edits.
#[derive(Clone, Debug)]
pub struct PhotoLayers {
    /// Names the photo these layers belong to (a copy keeps it): the network's cache of source
    /// features is keyed by it ([`pipeline::NetworkRunner`]).
    id: u64,
    pub photo: RgbImage,
    /// H·W alpha of the person in the photo, 0..1, row-major.
    pub matte: Vec<f32>,
    /// The photo with the person removed and filled; same size.
    pub plate: RgbImage,
    /// The copy the puppet's coarse grid works on ([`composite_puppet`]), made at the first
    /// edit that needs it: once per photo, not once per edit.
    coarse: std::sync::OnceLock<Box<PhotoLayers>>,
    /// The person's own colours at the matte's soft edge ([`PhotoLayers::foreground`]), made at
    /// the first edit that moves anything.
    foreground: std::sync::OnceLock<RgbImage>,
    /// The photo with the person under the arms filled in ([`PhotoLayers::under_arms`]), for
    /// the source skeleton it was made for: made at the first edit that needs it, again only
    /// when that skeleton changes. Copies share it (they are the same photo).
    under_arms: LastMade<crate::pose::Pose, RgbImage>,
    /// Which part owns each of the photo's person pixels ([`PhotoLayers::part_labels`]), for
    /// the source skeleton and settings they were made for.
    labels: LastMade<(crate::pose::Pose, crate::puppet::PuppetConfig), crate::puppet::PartLabels>,
}

impl PhotoLayers {
    /// Checks that the three layers have one size; alpha values are clamped to 0..1.
    pub fn new(photo: RgbImage, mut matte: Vec<f32>, plate: RgbImage) -> Result<Self> {
        let (w, h) = photo.dimensions();
        ensure!(
            matte.len() == (w as usize) * (h as usize),
            "matte of {} values for a {w}×{h} photo",
            matte.len()
        );
        ensure!(
            plate.dimensions() == (w, h),
            "plate of {:?} for a {w}×{h} photo",
            plate.dimensions()
        );
        matte
            .iter_mut()
            .for_each(|a| *a = if a.is_nan() { 0.0 } else { a.clamp(0.0, 1.0) });
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Ok(Self {
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            photo,
            matte,
            plate,
            coarse: std::sync::OnceLock::new(),
            foreground: std::sync::OnceLock::new(),
            under_arms: Default::default(),
            labels: Default::default(),
        })
    }

    /// Unique per [`PhotoLayers::new`]; kept by copies.
    pub fn id(&self) -> u64 {
        self.id
    }

    fn size(&self) -> (usize, usize) {
        (self.photo.height() as usize, self.photo.width() as usize)
    }

    /// The photo with the person's soft edge un-mixed from the background behind it (the
    /// plate): what a moved limb carries, so it takes no outline of its old surroundings along
    /// ([`crate::imaging::foreground`]). Equal to the photo wherever the matte is 0 or 1.
    pub fn foreground(&self) -> &RgbImage {
        self.foreground.get_or_init(|| {
            let (h, w) = self.size();
            crate::imaging::foreground::estimate_foreground(
                &self.photo,
                &self.matte,
                &self.plate,
                2 * edge_radius(h, w) + 1,
            )
        })
    }

    /// The photo with the person that the arms of the figure `source` (photo pixels) cover
    /// filled with the cloth around them ([`hidden::person_under_arms`]): where the detail of
    /// the body an arm uncovers comes from. Made once per source skeleton, so every edit of
    /// it — every frame of an animation — takes the same grain from the same place of the
    /// body: a fill per edit picked other patches as the uncovered region changed shape, and
    /// the cloth boiled.
    pub(crate) fn under_arms(&self, source: &crate::pose::Pose) -> std::sync::Arc<RgbImage> {
        self.under_arms.get_or_make(source.clone(), |source| {
            hidden::person_under_arms(self, source)
        })
    }

    /// Which body part of the figure `source` (these layers' pixels) owns each of the photo's
    /// person pixels, grown over the matte up to colour edges ([`crate::puppet::part_labels`]).
    /// Made once per source skeleton and settings (the target's depth order and the fills
    /// aside): ~10–30 ms on the puppet's grid, too much to repeat at every edit.
    pub(crate) fn part_labels(
        &self,
        source: &crate::pose::Pose,
        cfg: &crate::puppet::PuppetConfig,
    ) -> std::sync::Arc<crate::puppet::PartLabels> {
        // What only the target or the fills use does not change the labels.
        let key = crate::puppet::PuppetConfig {
            order: Default::default(),
            textured_fill: true,
            photo_detail: false,
            ..cfg.clone()
        };
        self.labels
            .get_or_make((source.clone(), key), |(source, key)| {
                crate::puppet::part_labels(source, &self.photo, &self.matte, key)
            })
    }
}

/// The hole the plate must fill: the matte above `threshold`, dilated by `radius` pixels
/// (255 = fill), so the person's soft edge and shadow-free halo are filled too.
pub fn plate_hole(
    matte: &[f32],
    height: usize,
    width: usize,
    threshold: f32,
    radius: usize,
) -> GrayImage {
    let inside: Vec<f32> = matte
        .iter()
        .map(|&a| if a > threshold { 1.0 } else { 0.0 })
        .collect();
    let grown = vacated::max_filter(&inside, height, width, radius);
    GrayImage::from_fn(width as u32, height as u32, |x, y| {
        image::Luma([if grown[y as usize * width + x as usize] > 0.0 {
            255
        } else {
            0
        }])
    })
}

/// One edit's result.
#[derive(Clone, Debug)]
pub struct Composited {
    /// The re-posed photo, at the photo's size.
    pub image: RgbImage,
    /// H·W alpha of the target person.
    pub person: Vec<f32>,
    /// H·W share of each pixel taken from the plate (where the person has left).
    pub vacated: Vec<f32>,
    /// H·W share of each pixel that is invented person (the hidden-person fill or a network's
    /// pixels): what the source photo never showed.
    pub invented: Vec<f32>,
    /// H·W: how far each target person pixel was carried (0 where it stays, 1 from about a
    /// pixel of motion on; 0 off the person): the moved outline is where a rim can show.
    pub moved: Vec<f32>,
}

/// Pixels the source does not show, invented by a network: its image at photo size and, per
/// pixel, how much of the source is visible there (1 = warp the photo, 0 = take `image`).
pub struct Invented<'a> {
    pub image: &'a RgbImage,
    pub visible: &'a [f32],
    /// How much the target figure has body per pixel (H·W, 0..1; `None`: not known): there
    /// the plate does not show through invented person, however faint (see
    /// [`INVENTED_HOLDS`]).
    pub body: Option<&'a [f32]>,
}

/// Composites one edit: `flow` (photo-sized, target → source) and `owned` (H·W, see the module
/// doc) over `layers`.
pub fn composite(layers: &PhotoLayers, flow: &FlowField, owned: &[f32]) -> Result<Composited> {
    composite_with(layers, flow, owned, None)
}

/// [`composite`] with the person's hidden parts taken from `invented`.
pub fn composite_with(
    layers: &PhotoLayers,
    flow: &FlowField,
    owned: &[f32],
    invented: Option<Invented<'_>>,
) -> Result<Composited> {
    let (h, w) = layers.size();
    composite_window(layers, Window::whole(h, w), flow, owned, invented)
}

/// A rectangle of the photo: `x0, y0` its top-left pixel, `w × h` its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    pub x0: usize,
    pub y0: usize,
    pub w: usize,
    pub h: usize,
}

impl Window {
    pub fn whole(h: usize, w: usize) -> Self {
        Self { x0: 0, y0: 0, w, h }
    }
}

/// The composite computed inside `win` only — `flow`, `owned` and `invented` are window-sized,
/// their pixel (x, y) is the photo's (x0 + x, y0 + y), and they sample the whole layers —
/// with the photo unchanged outside. The caller promises that nothing changes outside: zero
/// flow, everything owned, nothing invented there (the puppet's edit of one arm touches a
/// fraction of a photo, and the rest is then a copy).
pub(crate) fn composite_window(
    layers: &PhotoLayers,
    win: Window,
    flow: &FlowField,
    owned: &[f32],
    invented: Option<Invented<'_>>,
) -> Result<Composited> {
    let (ph, pw) = layers.size();
    ensure!(
        win.x0 + win.w <= pw && win.y0 + win.h <= ph && win.w > 0 && win.h > 0,
        "window {win:?} outside a {pw}×{ph} photo"
    );
    let (h, w) = (win.h, win.w);
    ensure!(
        flow.height == h && flow.width == w,
        "flow of {}×{} for a {h}×{w} window",
        flow.height,
        flow.width
    );
    ensure!(
        owned.len() == h * w,
        "ownership of {} values for {h}×{w}",
        owned.len()
    );
    if let Some(inv) = &invented {
        ensure!(
            inv.image.dimensions() == (w as u32, h as u32) && inv.visible.len() == h * w,
            "invented pixels of {:?} ({} visibilities) for a {w}×{h} window",
            inv.image.dimensions(),
            inv.visible.len()
        );
    }
    let at = |x: usize, y: usize| (y + win.y0) * pw + x + win.x0; // photo index
                                                                  // Target alpha: the warped matte where the moved figure owns what it samples.
    let mut person = vec![0f32; h * w];
    person.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        for (x, a) in row.iter_mut().enumerate() {
            let i = y * w + x;
            if owned[i] == 0.0 {
                continue;
            }
            let (dx, dy) = flow.get(x, y);
            let sampled = if dx == 0.0 && dy == 0.0 {
                layers.matte[at(x, y)] // most of a photo does not move
            } else {
                let (px, py) = ((x + win.x0) as f32 + dx, (y + win.y0) as f32 + dy);
                sample_map(&layers.matte, ph, pw, px, py)
            };
            // An invented pixel is person wherever it is owned: the source matte says nothing
            // about a point the source does not show.
            let m = invented.as_ref().map_or(1.0, |inv| inv.visible[i]);
            *a = (m * sampled + (1.0 - m)) * owned[i];
        }
    });
    let moved: Vec<f32> = (0..h * w)
        .into_par_iter()
        .map(|i| {
            if person[i] == 0.0 {
                return 0.0;
            }
            let (dx, dy) = (flow.data[i], flow.data[h * w + i]);
            if dx == 0.0 && dy == 0.0 {
                return 0.0; // still (most of a window): no call to hypot
            }
            crate::imaging::smoothstep(0.25, 1.0, dx.hypot(dy))
        })
        .collect();
    // Where the source person was and the target person is not; grown over the soft edge.
    let mut left = vec![0f32; h * w];
    left.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        let (matte, person) = (&layers.matte[at(0, y)..at(0, y) + w], &person[y * w..]);
        for ((l, m), a) in row.iter_mut().zip(matte).zip(person) {
            *l = (m - a).max(0.0);
        }
    });
    let vacated = vacated::share(&left, h, w, layers::hole_radius(ph, pw));
    let mut image = layers.photo.clone();
    let (photo, plate) = (layers.photo.as_raw(), layers.plate.as_raw());
    image
        .par_chunks_mut(3 * pw)
        .skip(win.y0)
        .take(h)
        .enumerate()
        .for_each(|(y, row)| {
            for x in 0..w {
                let (i, j) = (y * w + x, at(x, y));
                // Where invented person is, the plate must not show through it (a light seam
                // where its alpha dips between it and the shown body): the photo behind it is
                // kept instead. Inside the figure's body from its faintest alpha (an arm
                // brought across the chest: between the chest it uncovered and itself, the
                // plate drew a grey line); elsewhere only where it is substantially there: at
                // its faint outer edge over a vacated region the photo behind is the old limb,
                // and a cut from plate to it at the faintest alpha drew the grid's staircase.
                let m = invented.as_ref().map_or(1.0, |inv| inv.visible[i]);
                let a = person[i];
                let body = invented
                    .as_ref()
                    .and_then(|inv| inv.body)
                    .map_or(0.0, |b| b[i]);
                let hold = (1.0 - m) * crate::imaging::smoothstep(0.0, INVENTED_HOLDS, a).max(body);
                let v = vacated[i] * (1.0 - hold);
                if a == 0.0 && v == 0.0 {
                    continue; // untouched: the photo's pixel is already there
                }
                let (dx, dy) = flow.get(x, y);
                if dx == 0.0 && dy == 0.0 && v == 0.0 && m == 1.0 {
                    // A still pixel of the photo's own person (or background) over nothing
                    // vacated: any blend of the photo with itself rounds back to it.
                    continue;
                }
                let px = &photo[3 * j..3 * j + 3];
                let figure = if a > 0.0 {
                    let (sx, sy) = ((x + win.x0) as f32 + dx, (y + win.y0) as f32 + dy);
                    let warped = warped_person(layers, sx, sy, moved[i]);
                    match &invented {
                        Some(inv) => {
                            let new = inv.image.get_pixel(x as u32, y as u32).0;
                            [0, 1, 2].map(|c| m * warped[c] + (1.0 - m) * new[c] as f32)
                        }
                        None => warped,
                    }
                } else {
                    [0.0; 3]
                };
                let out = &mut row[3 * (x + win.x0)..3 * (x + win.x0) + 3];
                for c in 0..3 {
                    let back = px[c] as f32 * (1.0 - v) + plate[3 * j + c] as f32 * v;
                    let value = a * figure[c] + (1.0 - a) * back;
                    out[c] = crate::imaging::to_u8(value);
                }
            }
        });
    let invented: Vec<f32> = match &invented {
        Some(inv) => person
            .iter()
            .zip(inv.visible)
            .map(|(a, m)| a * (1.0 - m))
            .collect(),
        None => vec![0.0; h * w],
    };
    // Outside the window the person is the source's and nothing is vacated or invented.
    let (person, vacated, invented, moved) = if win == Window::whole(ph, pw) {
        (person, vacated, invented, moved)
    } else {
        // Each plane the photo's size: `outside` there, the window's rows pasted in.
        let full = |window: &[f32], outside: Option<&[f32]>| {
            let mut out = match outside {
                Some(plane) => plane.to_vec(),
                None => vec![0f32; ph * pw],
            };
            out.par_chunks_mut(pw)
                .skip(win.y0)
                .zip(window.par_chunks(w))
                .for_each(|(row, src)| row[win.x0..win.x0 + w].copy_from_slice(src));
            out
        };
        (
            full(&person, Some(&layers.matte)),
            full(&vacated, None),
            full(&invented, None),
            full(&moved, None),
        )
    };
    Ok(Composited {
        image,
        person,
        vacated,
        invented,
        moved,
    })
}

/// The person's colour at photo position (x, y) for a pixel whose flow has moved it by `t`
/// (the `moved` share: 0 still, 1 a pixel of flow and more). A pixel that moves takes the
/// un-mixed foreground (no old background in its soft edge); one that stays takes the photo,
/// so that where nothing moves the photo comes back exactly; in between (the first pixel of
/// flow) the two blend, so no seam appears where motion starts.
fn warped_person(layers: &PhotoLayers, x: f32, y: f32, t: f32) -> [f32; 3] {
    use crate::imaging::flow_field::sample_bilinear;
    if t == 0.0 {
        return sample_bilinear(&layers.photo, x, y);
    }
    let fg = sample_bilinear(layers.foreground(), x, y);
    if t == 1.0 {
        return fg;
    }
    let photo = sample_bilinear(&layers.photo, x, y);
    [0, 1, 2].map(|c| t * fg[c] + (1.0 - t) * photo[c])
}

/// The width of a matte's soft edge, ~2 px per 512: the foreground colour estimate looks for
/// the person's own colour within about twice this.
fn edge_radius(h: usize, w: usize) -> usize {
    (h.min(w) / 256).clamp(1, 8)
}

/// The invented person's alpha from which it keeps the plate from showing through it whole
/// (outside the figure's body, [`Invented::body`]).
const INVENTED_HOLDS: f32 = 0.2;

/// Bilinear sample of an H·W map at (x, y), border-clamped.
pub(crate) fn sample_map(map: &[f32], h: usize, w: usize, x: f32, y: f32) -> f32 {
    let x = if x.is_nan() {
        0.0
    } else {
        x.clamp(0.0, (w - 1) as f32)
    };
    let y = if y.is_nan() {
        0.0
    } else {
        y.clamp(0.0, (h - 1) as f32)
    };
    let (x0, y0) = (x as usize, y as usize); // ≥ 0: the floor, without libm's call
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (ax, ay) = (x - x0 as f32, y - y0 as f32);
    let at = |xx: usize, yy: usize| map[yy * w + xx];
    let top = at(x0, y0) * (1.0 - ax) + at(x1, y0) * ax;
    let bottom = at(x0, y1) * (1.0 - ax) + at(x1, y1) * ax;
    top * (1.0 - ay) + bottom * ay
}

#[cfg(test)]
mod tests;
