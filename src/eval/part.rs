//! The person region of a synthetic pair split by what a re-posing must do at each pixel.

use crate::synth::SynthScene;

/// The person region split by what a re-posing must do there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// Target person the source shows (ground-truth visibility ≥ 0.5): to be moved.
    Shown,
    /// Target person the source does not show: to be invented.
    Hidden,
    /// Where the source person was and the target's is not: to be background again.
    Vacated,
}

impl Part {
    pub const ALL: [Part; 3] = [Part::Shown, Part::Hidden, Part::Vacated];

    pub fn name(self) -> &'static str {
        match self {
            Part::Shown => "shown",
            Part::Hidden => "hidden",
            Part::Vacated => "vacated",
        }
    }

    /// The part of target pixel i, if it is in the person region (coverage > 0.5).
    pub fn of(scene: &SynthScene, i: usize) -> Option<Part> {
        match scene.pair.person_shown(i) {
            Some(true) => Some(Part::Shown),
            Some(false) => Some(Part::Hidden),
            None => (scene.source_person[i] > 0.5).then_some(Part::Vacated),
        }
    }
}
