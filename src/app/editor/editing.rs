//! Edits of the document (each one undo step), dragging joints, undo/redo, the probe and the model choice.

use super::{capitalized, layer_name, Doc, Drag, Editor, Which};
use crate::app::engine::ModelChoice;
use crate::app::probe;
use crate::app::project::Mode;
use crate::pose;
use crate::pose::rig::{Point, Rig};
use crate::puppet::{Layer, Limb, LimbOrder};

impl Editor {
    pub fn skeleton(&self, which: Which) -> &Rig {
        match which {
            Which::Source => &self.doc.source,
            Which::Target => &self.doc.target,
        }
    }

    /// The skeleton the mouse edits in the current mode.
    pub fn editable(&self) -> Which {
        match self.settings.mode {
            Mode::FitSource => Which::Source,
            Mode::PoseTarget => Which::Target,
        }
    }

    /// Applies a one-shot edit with an undo record.
    pub fn edit(&mut self, f: impl FnOnce(&mut Doc)) {
        let before = self.doc.clone();
        f(&mut self.doc);
        self.follow_source();
        if self.doc != before {
            self.history.record(before);
        }
    }

    /// While fitting, the target is the source (the model then reconstructs the photo, which
    /// shows how good the fit is).
    pub(super) fn follow_source(&mut self) {
        if self.settings.mode == Mode::FitSource {
            self.doc.target = self.doc.source.clone();
        }
    }

    /// Opens an edit made of many small changes (a dragged number): one undo record before
    /// all of them, made directly on `doc`; [`Editor::end_edit`] drops the record again if
    /// nothing changed.
    pub fn begin_edit(&mut self) {
        self.history.record(self.doc.clone());
    }

    pub fn end_edit(&mut self) {
        self.history.discard_if_unchanged(&self.doc);
    }

    pub fn begin_drag(&mut self, which: Which, joint: usize, rotate: bool) {
        self.begin_edit();
        self.selected = Some(joint);
        self.drag = Some(Drag {
            which,
            joint,
            rotate,
        });
    }

    /// Moves the dragged joint toward `to` (photo pixels).
    pub fn drag_to(&mut self, to: Point) {
        let Some(d) = self.drag else { return };
        let lock = self.settings.lock_lengths;
        let s = match d.which {
            Which::Source => &mut self.doc.source,
            Which::Target => &mut self.doc.target,
        };
        if d.rotate {
            s.rotate_limb(d.joint, to);
        } else {
            s.drag(d.joint, to, lock);
        }
        self.follow_source();
    }

    pub fn end_drag(&mut self) {
        if self.drag.take().is_some() {
            self.end_edit();
        }
    }

    /// Selects a joint (a click on it): its limb gets the depth controls.
    pub fn select_joint(&mut self, joint: usize) {
        self.selected = (joint < pose::NUM_JOINTS).then_some(joint);
    }

    /// The limb of the selected joint; `None` for the neck and face or when nothing is.
    pub fn selected_limb(&self) -> Option<Limb> {
        self.selected.and_then(Limb::of_joint)
    }

    /// Puts `limb` in front of or behind the body in the target pose (`None`: the automatic
    /// choice from the skeleton); one undo step. Stops playback: the user takes over.
    pub fn set_limb_layer(&mut self, limb: Limb, layer: Option<Layer>) {
        if self.doc.order.get(limb) == layer {
            return;
        }
        self.pause();
        self.edit(|d| d.order.set(limb, layer));
        self.say(format!(
            "{}: {}",
            capitalized(limb.name()),
            layer_name(layer)
        ));
    }

    /// The `D` key: the selected limb goes automatic → front → behind → automatic.
    pub fn cycle_selected_layer(&mut self) {
        let Some(limb) = self.selected_limb() else {
            self.say("Click a joint of an arm or leg to set its depth order".into());
            return;
        };
        let next = match self.doc.order.get(limb) {
            None => Some(Layer::Front),
            Some(Layer::Front) => Some(Layer::Behind),
            Some(Layer::Behind) => None,
        };
        self.set_limb_layer(limb, next);
    }

    pub fn toggle_joint(&mut self, which: Which, joint: usize) {
        self.edit(|doc| {
            let s = match which {
                Which::Source => &mut doc.source,
                Which::Target => &mut doc.target,
            };
            s.visible[joint] = !s.visible[joint];
        });
    }

    pub fn mirror(&mut self) {
        let which = self.editable();
        self.edit(|doc| match which {
            Which::Source => doc.source = doc.source.mirrored(),
            Which::Target => {
                doc.target = doc.target.mirrored();
                // The arm put behind now does what the other arm did: so does its setting.
                doc.order = doc.order.mirrored();
            }
        });
    }

    /// The target back to the source pose, every limb's depth back to automatic: a fresh start.
    pub fn reset_target(&mut self) {
        self.edit(|doc| {
            doc.target = doc.source.clone();
            doc.order = LimbOrder::default();
        });
    }

    /// Switches between fitting the source and posing the target (not an edit of the poses).
    pub fn set_mode(&mut self, mode: Mode) {
        let was = self.settings.mode;
        self.settings.mode = mode;
        let fitted = " (fitted by hand)";
        if was == Mode::FitSource
            && mode == Mode::PoseTarget
            && !self.source_origin.ends_with(fitted)
        {
            self.source_origin.push_str(fitted);
        }
    }

    pub fn undo(&mut self) {
        self.end_drag();
        if let Some(prev) = self.history.undo(self.doc.clone()) {
            self.doc = prev;
            self.follow_detection_step();
        }
    }

    pub fn redo(&mut self) {
        self.end_drag();
        if let Some(next) = self.history.redo(self.doc.clone()) {
            self.doc = next;
            self.follow_detection_step();
        }
    }

    /// After an undo or redo that lands on either side of the applied detection: the mode and
    /// the source label that go with that side.
    pub(super) fn follow_detection_step(&mut self) {
        let Some(step) = &self.detection.step else {
            return;
        };
        if self.doc == step.before {
            self.settings.mode = Mode::FitSource;
            self.source_origin = step.origin_before.clone();
        } else if self.doc == step.after {
            self.settings.mode = Mode::PoseTarget;
            self.source_origin = step.origin_after.clone();
        }
    }

    pub fn can_undo(&self) -> bool {
        self.history.can_undo()
    }

    pub fn can_redo(&self) -> bool {
        self.history.can_redo()
    }

    /// Probes the result at a photo point (click on the result).
    pub fn probe_at(&mut self, p: Point) {
        self.probe = self.result.as_ref().and_then(|r| probe::probe(r, p));
        self.probe_version += 1;
        if self.probe.is_none() {
            self.say(
                "Click inside the model's crop (the framed area) to see where it sampled".into(),
            );
        }
    }

    pub fn choose_model(&mut self, choice: ModelChoice) {
        self.model_spec.choice = choice;
    }

    pub fn choose_device(&mut self, device: &str) {
        self.model_spec.device = device.to_string();
    }
}
