//! Load (issue 16): the editor's state, headless, driven by 10 000 drag events in about ten
//! seconds on a real photo with the real workers (the bundled GFLA, the composited puppet
//! preview, the layers). Memory stays flat, a frame's work never waits on them, no result or
//! preview older than one already shown ever replaces it, and what is shown at the end is the
//! last edit's.

use marionette::app::editor::Which;
use marionette::app::{Editor, EditorOptions};
use marionette::pose::skeleton::R_ELBOW;
use std::time::{Duration, Instant};

/// Resident memory of this process (Linux), in MiB.
fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn settle(e: &mut Editor, what: &str) {
    let t0 = Instant::now();
    loop {
        e.tick();
        let composited = e.layers.is_none() || e.preview.as_ref().is_some_and(|p| p.composited);
        if e.result_is_current() && !e.busy() && e.preview_is_current() && composited {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(180),
            "{what} never settled"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn ten_thousand_drag_events_keep_memory_flat_and_end_on_the_last_edit() {
    let Some(dir) = marionette::app::editor::samples_dir() else {
        eprintln!("SKIPPED editor load test: no samples folder");
        return;
    };
    let composite = marionette::detect::PoseDetector::load_default().is_ok();
    let options = EditorOptions {
        detect: false,
        composite,
        ..Default::default()
    };
    let mut e = Editor::new(options, || {});
    // The astronaut opens with her skeleton from the pose file beside her.
    e.open_photo(&dir.join("astronaut.png")).unwrap();
    settle(&mut e, "the first result");
    let rss_before = rss_mib();

    let start = e.doc.target.points[R_ELBOW];
    e.begin_drag(Which::Target, R_ELBOW, false);
    let t0 = Instant::now();
    let (mut last_result, mut last_preview, mut slowest) = (0u64, 0u64, Duration::ZERO);
    let mut to = start;
    for k in 0..10_000 {
        let a = k as f32 * 0.003;
        to = [start[0] + 60.0 * a.sin(), start[1] - 60.0 * (1.0 - a.cos())];
        e.drag_to(to);
        let frame = Instant::now();
        e.tick();
        slowest = slowest.max(frame.elapsed());
        if let Some(r) = &e.result {
            assert!(
                r.request >= last_result,
                "an older result replaced a newer one"
            );
            last_result = r.request;
        }
        if let Some(p) = &e.preview {
            assert!(
                p.request >= last_preview,
                "an older preview replaced a newer one"
            );
            last_preview = p.request;
        }
        // About ten seconds for the lot, as a hand would.
        let due = t0 + Duration::from_micros(1000 * (k + 1));
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    e.end_drag();
    let drag_secs = t0.elapsed().as_secs_f64();
    settle(&mut e, "the last edit");
    let rss_after = rss_mib();

    // What is shown is the last edit's.
    assert_eq!(e.doc.target.points[R_ELBOW], to);
    assert_eq!(e.result.as_ref().unwrap().request, e.latest_request);
    assert_eq!(e.preview.as_ref().unwrap().request, e.latest_request);
    println!(
        "10000 drag events in {drag_secs:.1} s; slowest frame's work {:.2} ms; {} requests dropped; \
         RSS {rss_before:.0?} → {rss_after:.0?} MiB; composite {composite}",
        slowest.as_secs_f64() * 1e3,
        e.dropped_requests()
    );
    assert!(
        slowest < Duration::from_millis(50),
        "a frame waited {slowest:?} on the workers"
    );
    if let (Some(a), Some(b)) = (rss_before, rss_after) {
        assert!(b - a < 150.0, "memory grew from {a:.0} to {b:.0} MiB");
    }
}
