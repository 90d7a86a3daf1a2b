//! Frame-time statistics: how long the UI's own work takes and how often frames come, split by
//! whether the model was busy — the evidence that inference never stalls the UI.

use std::time::Instant;

#[derive(Default)]
pub struct FrameStats {
    last: Option<Instant>,
    /// (interval since the previous frame ms, UI work ms, model busy)
    frames: Vec<(f32, f32, bool)>,
}

impl FrameStats {
    pub fn record(&mut self, ui_ms: f32, busy: bool) {
        let now = Instant::now();
        if let Some(last) = self.last {
            self.frames
                .push(((now - last).as_secs_f32() * 1e3, ui_ms, busy));
        }
        self.last = Some(now);
    }

    /// One line per group: frame count, median and worst UI work, median and worst interval.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        for (label, busy) in [
            ("model busy", Some(true)),
            ("model idle", Some(false)),
            ("all", None),
        ] {
            let sel: Vec<&(f32, f32, bool)> = self
                .frames
                .iter()
                .filter(|f| busy.is_none_or(|b| f.2 == b))
                .collect();
            if sel.is_empty() {
                continue;
            }
            let stat = |k: fn(&(f32, f32, bool)) -> f32| {
                let mut v: Vec<f32> = sel.iter().map(|f| k(f)).collect();
                v.sort_by(f32::total_cmp);
                (
                    v[v.len() / 2],
                    v[(v.len() * 99 / 100).min(v.len() - 1)],
                    v[v.len() - 1],
                )
            };
            let (wm, w99, wmax) = stat(|f| f.1);
            let (im, i99, imax) = stat(|f| f.0);
            out += &format!(
                "{label}: {} frames; UI work median {wm:.2} ms, p99 {w99:.2}, max {wmax:.2}; frame interval median {im:.1} ms, p99 {i99:.1}, max {imax:.1}\n",
                sel.len()
            );
        }
        out
    }
}
