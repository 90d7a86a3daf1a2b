//! The two panes: the photo with both skeletons (and the attention windows of a probe), and the
//! result (with flow/mask overlays). Both share one [`View`], so a joint is at the same place
//! in each and can be dragged in either.

use super::paint_overlay;
use super::textures::Textures;
use crate::app::editor::{Editor, Which};
use crate::app::overlay::{GpuOverlays, OverlayPaint, OverlayStyle};
use crate::app::project::{Mode, ResultOverlay, ResultView};
use crate::app::view::{hit_joint, View};
use crate::imaging::FitTransform;
use crate::pose::rig::Rig;
use crate::pose::{JOINT_COLORS, LIMBS, LIMB_COLORS};
use eframe::egui::{
    self, Align2, Color32, FontId, Pos2, Rect, Response, Sense, Shape, Stroke, StrokeKind, Vec2,
};

/// Screen points within which a joint is grabbed.
const GRAB_RADIUS: f32 = 10.0;
/// Colours of the attention levels' windows (deepest first).
const LEVEL_COLORS: [Color32; 4] = [
    Color32::from_rgb(255, 210, 0),
    Color32::from_rgb(0, 230, 255),
    Color32::from_rgb(255, 80, 200),
    Color32::from_rgb(120, 255, 120),
];

/// How the panes show the photo: view-only state, not part of the session (neither saved nor
/// undone), so it lives in the UI rather than in the [`Editor`].
pub struct Panes {
    pub view: View,
    /// Where the photo and result panes were drawn last frame (screen points).
    pub rects: [Rect; 2],
    /// The view is re-fitted to the pane on the next frame (F, View > Fit to window).
    pub refit: bool,
    /// The editor's `photo_version` the view was last fitted for: another photo re-fits it.
    fitted_photo: u64,
}

impl Default for Panes {
    fn default() -> Self {
        Self {
            view: View::default(),
            rects: [Rect::NOTHING; 2],
            refit: true,
            fitted_photo: 0,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaneKind {
    Photo,
    Result,
}

/// Lays out the photo and result panes side by side in `ui` and handles their input.
pub fn panes(
    ui: &mut egui::Ui,
    editor: &mut Editor,
    state: &mut Panes,
    tex: &Textures,
    gpu: Option<GpuOverlays>,
) {
    let full = ui.available_rect_before_wrap();
    let gap = 8.0;
    let w = (full.width() - gap) / 2.0;
    let photo_rect = Rect::from_min_size(full.min, Vec2::new(w, full.height()));
    let result_rect = Rect::from_min_size(
        Pos2::new(full.min.x + w + gap, full.min.y),
        Vec2::new(w, full.height()),
    );
    state.rects = [photo_rect, result_rect];
    if state.fitted_photo != editor.photo_version {
        state.fitted_photo = editor.photo_version;
        state.refit = true;
    }
    if let (Some((pw, ph)), true) = (editor.photo_wh(), state.refit) {
        state.view = View::fit(photo_rect.size(), pw, ph);
        state.refit = false;
    }
    let photo_resp = ui.interact(
        photo_rect,
        egui::Id::unique("marionette.photo_pane"),
        Sense::click_and_drag(),
    );
    let result_resp = ui.interact(
        result_rect,
        egui::Id::unique("marionette.result_pane"),
        Sense::click_and_drag(),
    );
    let view = &mut state.view;
    let hover_photo = interact(ui, editor, view, photo_rect, PaneKind::Photo, &photo_resp);
    let hover_result = interact(
        ui,
        editor,
        view,
        result_rect,
        PaneKind::Result,
        &result_resp,
    );

    let cx = PaintCx {
        ui,
        editor,
        view,
        tex,
        gpu,
    };
    paint_photo_pane(&cx, photo_rect, hover_photo);
    paint_result_pane(&cx, result_rect, hover_result);
}

/// What both panes are painted from: the editor's state, the shared view and the textures.
struct PaintCx<'a> {
    ui: &'a egui::Ui,
    editor: &'a Editor,
    view: &'a View,
    tex: &'a Textures,
    gpu: Option<GpuOverlays>,
}

/// Input of one pane: joint drags (Shift = swing the limb), right-click to hide/show a joint,
/// wheel zoom, middle- or Space-drag pan, click on the result to probe. Returns the joint under
/// the cursor.
fn interact(
    ui: &egui::Ui,
    editor: &mut Editor,
    view_state: &mut View,
    pane: Rect,
    kind: PaneKind,
    resp: &Response,
) -> Option<usize> {
    editor.photo.as_ref()?;
    let which = editor.editable();
    let view = *view_state;
    let (pointer, press_origin, shift, space, scroll) = ui.input(|i| {
        (
            i.pointer.interact_pos(),
            i.pointer.press_origin(),
            i.modifiers.shift,
            i.key_down(egui::Key::Space),
            i.smooth_scroll_delta.y,
        )
    });
    let include_hidden = editor.settings.show_hidden;
    let hit = |editor: &Editor, at: Pos2| {
        hit_joint(
            &view,
            pane,
            editor.skeleton(which),
            at,
            GRAB_RADIUS,
            include_hidden,
        )
    };
    let hover = pointer
        .filter(|p| pane.contains(*p))
        .and_then(|p| hit(editor, p));

    if resp.hovered() && scroll != 0.0 {
        if let Some(p) = pointer {
            view_state.zoom_at(pane, p, (scroll * 0.002).exp());
        }
    }
    let panning = resp.dragged_by(egui::PointerButton::Middle)
        || (resp.dragged_by(egui::PointerButton::Primary) && space && editor.drag.is_none());
    if panning {
        view_state.pan(resp.drag_delta());
    } else if resp.drag_started_by(egui::PointerButton::Primary) {
        if let Some(j) = press_origin.and_then(|p| hit(editor, p)) {
            editor.begin_drag(which, j, shift);
        }
    }
    if editor.drag.is_some() && resp.dragged_by(egui::PointerButton::Primary) {
        if let Some(p) = pointer {
            editor.drag_to(view_state.to_photo(pane, p));
        }
    }
    if resp.drag_stopped() {
        editor.end_drag();
    }
    if resp.clicked_by(egui::PointerButton::Secondary) {
        if let Some(j) = hover {
            editor.toggle_joint(which, j);
        }
    } else if let (true, Some(j)) = (resp.clicked(), hover) {
        // A click on a joint selects it (its limb gets the depth controls), like a drag does.
        editor.select_joint(j);
    } else if kind == PaneKind::Result && resp.clicked() && hover.is_none() {
        if let Some(p) = pointer {
            editor.probe_at(view_state.to_photo(pane, p));
        }
    }
    if hover.is_some() || editor.drag.is_some() {
        ui.ctx().set_cursor_icon(egui::CursorIcon::Grab);
    }
    hover
}

fn photo_rect_on_screen(editor: &Editor, view: &View, pane: Rect) -> Option<Rect> {
    let (w, h) = editor.photo_wh()?;
    Some(view.rect_to_screen(pane, [0.0, 0.0, w, h]))
}

fn crop_rect_on_screen(view: &View, pane: Rect, crop: &FitTransform) -> Rect {
    view.rect_to_screen(
        pane,
        [
            crop.x0 as f32 - 0.5,
            crop.y0 as f32 - 0.5,
            (crop.x0 + crop.crop_w) as f32 - 0.5,
            (crop.y0 + crop.crop_h) as f32 - 0.5,
        ],
    )
}

fn full_uv() -> Rect {
    Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0))
}

fn pane_background(painter: &egui::Painter, pane: Rect) {
    painter.rect_filled(pane, 4.0, Color32::from_gray(24));
}

/// The pane's name, drawn last so no image covers it.
fn pane_title(painter: &egui::Painter, pane: Rect, title: &str) {
    let pos = pane.left_top() + Vec2::new(8.0, 6.0);
    let galley = painter.layout_no_wrap(
        title.to_string(),
        FontId::proportional(13.0),
        Color32::from_gray(220),
    );
    let bg = Rect::from_min_size(pos, galley.size()).expand(3.0);
    painter.rect_filled(bg, 3.0, Color32::from_black_alpha(170));
    painter.galley(pos, galley, Color32::from_gray(220));
}

fn paint_photo_pane(cx: &PaintCx, pane: Rect, hover: Option<usize>) {
    let painter = cx.ui.painter_at(pane);
    pane_background(&painter, pane);
    let (Some(img_rect), Some(photo)) = (
        photo_rect_on_screen(cx.editor, cx.view, pane),
        &cx.tex.photo,
    ) else {
        painter.text(
            pane.center(),
            Align2::CENTER_CENTER,
            "File > Open photo, drop one here, or File > Open sample",
            FontId::proportional(15.0),
            Color32::from_gray(200),
        );
        pane_title(&painter, pane, "Photo");
        return;
    };
    painter.image(photo.id(), img_rect, full_uv(), Color32::WHITE);
    let editable = cx.editor.editable();
    let (src_alpha, tgt_alpha) = match cx.editor.settings.mode {
        Mode::FitSource => (1.0, 0.0),
        Mode::PoseTarget => (0.35, 1.0),
    };
    let hidden = cx.editor.settings.show_hidden;
    draw_skeleton(
        &painter,
        cx.view,
        pane,
        &cx.editor.doc.source,
        src_alpha,
        hidden && editable == Which::Source,
        hover.filter(|_| editable == Which::Source),
    );
    if tgt_alpha > 0.0 {
        draw_skeleton(
            &painter,
            cx.view,
            pane,
            &cx.editor.doc.target,
            tgt_alpha,
            hidden,
            hover.filter(|_| editable == Which::Target),
        );
    }
    selected_ring(&painter, cx.view, pane, cx.editor);
    if let Some(probe) = &cx.editor.probe {
        for (i, level) in probe.levels.iter().enumerate() {
            let rect = cx.view.rect_to_screen(pane, level.window);
            let color = LEVEL_COLORS[i % LEVEL_COLORS.len()];
            paint_overlay(
                cx.gpu,
                &painter,
                rect,
                OverlayPaint {
                    key: probe_key(cx.editor.probe_version, i),
                    field: level.weights.clone(),
                    style: OverlayStyle::Colormap {
                        min: 0.0,
                        max: level.peak.max(1e-6),
                        alpha_from_value: true,
                    },
                    opacity: cx.editor.settings.attention_opacity,
                    smooth: false,
                },
            );
            painter.rect_stroke(rect, 0.0, Stroke::new(1.5, color), StrokeKind::Outside);
            let from = cx.view.to_screen(pane, level.target);
            let to = cx.view.to_screen(pane, level.source);
            painter.arrow(from, to - from, Stroke::new(2.0, color));
            painter.text(
                rect.right_top() + Vec2::new(3.0, 0.0),
                Align2::LEFT_TOP,
                format!("level {}", level.level),
                FontId::proportional(11.0),
                color,
            );
        }
        crosshair(&painter, cx.view.to_screen(pane, probe.point));
    }
    pane_title(&painter, pane, "Photo");
}

fn paint_result_pane(cx: &PaintCx, pane: Rect, hover: Option<usize>) {
    let painter = cx.ui.painter_at(pane);
    let title = if cx.editor.busy() {
        "Result — rendering…"
    } else {
        "Result"
    };
    pane_background(&painter, pane);
    let Some(img_rect) = photo_rect_on_screen(cx.editor, cx.view, pane) else {
        pane_title(&painter, pane, title);
        return;
    };
    let crop = cx.editor.result.as_ref().map(|r| r.crop);
    // Held B shows the photo as it was, whatever the cx.view.
    let before =
        cx.ui.input(|i| i.key_down(egui::Key::B)) && !cx.ui.ctx().egui_wants_keyboard_input();
    let shown = if before {
        ResultView::Original
    } else {
        cx.editor.settings.result_view
    };
    match shown {
        ResultView::Photo => {
            // The re-posed photo (composited preview; the photo until the first one comes).
            if let Some(t) = cx.tex.preview.as_ref().or(cx.tex.photo.as_ref()) {
                painter.image(t.id(), img_rect, full_uv(), Color32::WHITE);
            }
            // Said only while compositing is on (off, the side panel says so).
            let note = match (&cx.editor.preview, cx.editor.layers.is_some()) {
                (Some(p), true) if !p.composited => {
                    Some("plain warp — the matte and background plate are not ready")
                }
                _ => None,
            };
            if let Some(note) = note {
                painter.text(
                    img_rect.left_bottom() + Vec2::new(4.0, -4.0),
                    Align2::LEFT_BOTTOM,
                    note,
                    FontId::proportional(11.0),
                    Color32::from_rgb(255, 220, 120),
                );
            }
        }
        ResultView::Original => {
            if let Some(t) = &cx.tex.photo {
                painter.image(t.id(), img_rect, full_uv(), Color32::WHITE);
            }
        }
        ResultView::Network => {
            // The network's output in its crop, over the dimmed re-posed photo for context.
            if let Some(t) = cx.tex.preview.as_ref().or(cx.tex.photo.as_ref()) {
                painter.image(t.id(), img_rect, full_uv(), Color32::from_gray(110));
            }
            if let (Some(crop), Some(result)) = (crop, &cx.tex.result) {
                let r = crop_rect_on_screen(cx.view, pane, &crop);
                painter.image(result.id(), r, full_uv(), Color32::WHITE);
            }
        }
    }
    if let (Some(result), Some(crop)) = (&cx.editor.result, crop) {
        let r = crop_rect_on_screen(cx.view, pane, &crop);
        paint_result_overlay(&painter, cx.editor, cx.gpu, result, r);
    }
    // The network's crop, outlined where its output or maps are shown.
    let network_shown =
        shown == ResultView::Network || cx.editor.settings.overlay != ResultOverlay::None;
    if let (Some(crop), true) = (crop, network_shown) {
        let r = crop_rect_on_screen(cx.view, pane, &crop);
        painter.rect_stroke(
            r,
            0.0,
            Stroke::new(1.0, Color32::from_white_alpha(90)),
            StrokeKind::Outside,
        );
    }
    let which = cx.editor.editable();
    draw_skeleton(
        &painter,
        cx.view,
        pane,
        cx.editor.skeleton(which),
        0.9,
        cx.editor.settings.show_hidden,
        hover,
    );
    selected_ring(&painter, cx.view, pane, cx.editor);
    if let Some(probe) = &cx.editor.probe {
        crosshair(&painter, cx.view.to_screen(pane, probe.point));
    }
    pane_title(&painter, pane, title);
}

/// Flow or mask of the chosen level over the result, and optional flow arrows.
fn paint_result_overlay(
    painter: &egui::Painter,
    editor: &Editor,
    gpu: Option<GpuOverlays>,
    result: &crate::app::engine::Rendered,
    r: Rect,
) {
    let s = &editor.settings;
    let Some(level_idx) =
        (!result.levels.is_empty()).then(|| s.overlay_level.min(result.levels.len() - 1))
    else {
        return;
    };
    let maps = &result.levels[level_idx];
    let key = editor.result_version * 16 + level_idx as u64 * 2;
    match s.overlay {
        ResultOverlay::None => {}
        ResultOverlay::Flow => {
            paint_overlay(
                gpu,
                painter,
                r,
                OverlayPaint {
                    key,
                    field: maps.flow.clone(),
                    style: OverlayStyle::FlowWheel {
                        max_radius: maps.flow.max_magnitude(),
                    },
                    opacity: s.overlay_opacity,
                    smooth: true,
                },
            );
        }
        ResultOverlay::Mask => {
            paint_overlay(
                gpu,
                painter,
                r,
                OverlayPaint {
                    key: key + 1,
                    field: maps.mask.clone(),
                    style: OverlayStyle::Colormap {
                        min: 0.0,
                        max: 1.0,
                        alpha_from_value: false,
                    },
                    opacity: s.overlay_opacity,
                    smooth: true,
                },
            );
        }
    }
    if s.flow_arrows {
        let (w, h) = (maps.flow.width as usize, maps.flow.height as usize);
        let (cw, ch) = (r.width() / w as f32, r.height() / h as f32);
        // About 24 arrows across, whatever the level's resolution.
        let step = (w / 24).max(1);
        for y in (step / 2..h).step_by(step) {
            for x in (step / 2..w).step_by(step) {
                let i = y * w + x;
                let d = Vec2::new(maps.flow.data[i], maps.flow.data[w * h + i]);
                if !d.x.is_finite() || !d.y.is_finite() {
                    continue;
                }
                let from = r.min + Vec2::new((x as f32 + 0.5) * cw, (y as f32 + 0.5) * ch);
                let v = Vec2::new(d.x * cw, d.y * ch);
                painter.arrow(from, v, Stroke::new(2.5, Color32::from_black_alpha(160)));
                painter.arrow(from, v, Stroke::new(1.2, Color32::WHITE));
            }
        }
    }
}

/// A skeleton: limbs in the OpenPose colours, joints as discs (hidden joints as rings when
/// `show_hidden`), the hovered joint ringed in white.
fn draw_skeleton(
    painter: &egui::Painter,
    view: &View,
    pane: Rect,
    s: &Rig,
    alpha: f32,
    show_hidden: bool,
    hover: Option<usize>,
) {
    let c = |rgb: [u8; 3], a: f32| {
        Color32::from_rgba_unmultiplied(rgb[0], rgb[1], rgb[2], (a * 255.0) as u8)
    };
    let at = |j: usize| view.to_screen(pane, s.points[j]);
    for (i, &(a, b)) in LIMBS.iter().enumerate() {
        if s.visible[a] && s.visible[b] {
            painter.line_segment(
                [at(a), at(b)],
                Stroke::new(3.0, c(LIMB_COLORS[i], alpha * 0.8)),
            );
        }
    }
    for (j, color) in JOINT_COLORS.iter().enumerate() {
        let p = at(j);
        if s.visible[j] {
            painter.circle(
                p,
                5.0,
                c(*color, alpha),
                Stroke::new(1.0, Color32::from_black_alpha((alpha * 200.0) as u8)),
            );
        } else if show_hidden {
            painter.add(Shape::circle_stroke(
                p,
                5.0,
                Stroke::new(1.5, c(*color, alpha * 0.8)),
            ));
        }
        if hover == Some(j) {
            painter.circle_stroke(p, 9.0, Stroke::new(2.0, Color32::WHITE));
        }
    }
}

/// The selected joint of the edited skeleton (whose limb the depth controls act on), ringed
/// in amber; only for arm and leg joints while posing, when the depth controls show.
fn selected_ring(painter: &egui::Painter, view: &View, pane: Rect, editor: &Editor) {
    let posing = editor.settings.mode == Mode::PoseTarget;
    let Some(j) = editor
        .selected
        .filter(|_| posing && editor.selected_limb().is_some())
    else {
        return;
    };
    let p = view.to_screen(pane, editor.skeleton(editor.editable()).points[j]);
    painter.circle_stroke(p, 10.0, Stroke::new(2.0, Color32::from_rgb(255, 190, 40)));
}

fn crosshair(painter: &egui::Painter, p: Pos2) {
    let s = Stroke::new(1.5, Color32::WHITE);
    painter.line_segment([p - Vec2::X * 8.0, p + Vec2::X * 8.0], s);
    painter.line_segment([p - Vec2::Y * 8.0, p + Vec2::Y * 8.0], s);
    painter.circle_stroke(p, 4.0, Stroke::new(1.0, Color32::BLACK));
}

/// GPU texture keys of the probe's attention windows: change with every probe.
fn probe_key(probe_version: u64, level: usize) -> u64 {
    (1u64 << 40) + probe_version * 16 + level as u64
}
