//! Kills (issue 16): the editor's process is killed with SIGKILL at random moments while it
//! autosaves, while it exports the re-posed photo and while it writes an animation, 40 times
//! in all. The files that were there before are always whole (never truncated, always readable),
//! and the next start offers the autosave back and restores it exactly.
//!
//! The process killed is this test binary itself, started again with `MARIONETTE_KILL_CHILD`
//! naming a loop to run ([`child_entry_point`]): the editor's own state and actions, headless,
//! in a process of its own, so a kill is a real kill.

use marionette::app::editor::Which;
use marionette::app::project::{autosave_path, Project};
use marionette::app::{Editor, EditorOptions};
use marionette::pose::skeleton::R_ELBOW;
use marionette::util::rng::SplitMix64;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "MARIONETTE_KILL_CHILD";
/// Marks the child's progress lines among the test harness' own output.
const STEP: &str = "@@step";

fn astronaut() -> Option<PathBuf> {
    let dir = marionette::app::editor::samples_dir()?;
    Some(dir.join("astronaut.png"))
}

fn editor(state_dir: &Path, composite: bool) -> Editor {
    Editor::new(
        EditorOptions {
            detect: false,
            composite,
            state_dir: Some(state_dir.to_path_buf()),
            ..Default::default()
        },
        || {},
    )
}

/// Runs in the child process: loops until killed, printing a line after each completed step.
#[test]
fn child_entry_point() {
    let Ok(mode) = std::env::var(CHILD_ENV) else {
        return; // the parent's run: nothing to do here
    };
    let dir = PathBuf::from(std::env::var("MARIONETTE_KILL_DIR").unwrap());
    let photo = astronaut().unwrap();
    match mode.as_str() {
        "autosave" => {
            let mut e = editor(&dir, false);
            e.discard_recovery();
            e.open_photo(&photo).unwrap();
            let start = e.doc.target.points[R_ELBOW];
            for i in 1u64.. {
                e.begin_drag(Which::Target, R_ELBOW, false);
                e.drag_to([start[0] + (i % 97) as f32, start[1] - (i % 89) as f32]);
                e.end_drag();
                e.autosave_now();
                println!("{STEP} saved {i}");
            }
        }
        "export" => {
            let mut e = editor(&dir, false);
            e.open_photo(&photo).unwrap();
            let out = dir.join("reposed.png");
            for i in 1u64.. {
                e.begin_drag(Which::Target, R_ELBOW, false);
                let p = e.doc.target.points[R_ELBOW];
                e.drag_to([p[0] + 1.0, p[1]]);
                e.end_drag();
                e.export_photo(&out).unwrap();
                while e.exporting() {
                    e.tick();
                    std::thread::sleep(Duration::from_millis(2));
                }
                println!("{STEP} exported {i}");
            }
        }
        "animation" => {
            use marionette::animate::keyframes::{Keyframe, Timeline};
            use marionette::animate::render::{export_frames, ExportSettings};
            use marionette::imaging::animation::AnimFormat;
            let img = marionette::imaging::open_photo(&photo).unwrap();
            let pose =
                marionette::pose::read_openpose(photo.with_file_name("astronaut_source.json"), 0)
                    .unwrap();
            let source = marionette::pose::rig::Rig::from_pose(&pose, (512.0, 512.0));
            let mut raised = source.clone();
            let s = raised.points[marionette::pose::skeleton::R_SHOULDER];
            raised.rotate_limb(R_ELBOW, [s[0] - 150.0, s[1] - 100.0]);
            let timeline = Timeline {
                keyframes: vec![Keyframe::new(source.clone()), Keyframe::new(raised)],
                fps: 8.0,
            };
            let detector = marionette::detect::PoseDetector::load_default().unwrap();
            let settings = ExportSettings {
                fps: 8.0,
                max_side: Some(192),
                ..Default::default()
            };
            for i in 1u64.. {
                export_frames(
                    &img,
                    &source,
                    &timeline.frames(8.0),
                    &dir.join("wave.gif"),
                    AnimFormat::Gif,
                    &settings,
                    &detector,
                    &|_| {},
                    &|| false,
                )
                .unwrap();
                println!("{STEP} animated {i}");
            }
        }
        other => panic!("unknown child mode {other}"),
    }
}

/// Starts the child loop `mode` over `dir`; returns it and a reader of its progress lines.
fn spawn(mode: &str, dir: &Path) -> (Child, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_entry_point",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, mode)
        .env("MARIONETTE_KILL_DIR", dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let lines = BufReader::new(stdout).lines().map_while(Result::ok);
        for line in lines.filter(|l| l.contains(STEP)) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Kills `child` with SIGKILL (no destructors, no flushing: what a crash or `kill -9` does).
fn kill9(child: &mut Child) {
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
}

/// Waits for the first progress line (the loop has done one whole step), then kills the child:
/// every other time at a random moment within about one step's time, otherwise the moment a
/// temporary file of a write appears beside the target (polled in a tight loop; a random
/// moment when none shows within two steps), so that kills land inside writes too, which are
/// a small part of a step. Returns whether the kill landed inside a write (it left a temporary
/// file).
fn run_and_kill(mode: &str, dir: &Path, rng: &mut SplitMix64, aim_at_write: bool) -> bool {
    let before = mid_write_leftovers(dir);
    let (mut child, rx) = spawn(mode, dir);
    let t0 = Instant::now();
    let first = rx.recv_timeout(Duration::from_secs(120));
    let step = t0.elapsed();
    assert!(first.is_ok(), "{mode}: the child never completed a step");
    if aim_at_write {
        let deadline = Instant::now() + 2 * step;
        while Instant::now() < deadline && mid_write_leftovers(dir) == before {
            std::hint::spin_loop();
        }
    } else {
        let wait = step.mul_f64(rng.uniform()).min(Duration::from_secs(3));
        std::thread::sleep(wait);
    }
    kill9(&mut child);
    mid_write_leftovers(dir) > before
}

/// Temporary files a killed write left beside its target: each is a kill that landed while a
/// file was being written (the evidence that the kills hit the writes, not only the work
/// around them).
fn mid_write_leftovers(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with('.') && (name.contains(".tmp") || name.contains(".frames"))
        })
        .count()
}

fn seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

#[test]
fn killed_while_autosaving_the_autosave_is_whole_and_restored_exactly() {
    let Some(photo) = astronaut() else {
        println!("SKIPPED: no samples folder");
        return;
    };
    let s = seed();
    let mut rng = SplitMix64::new(s);
    let dir = tempfile::tempdir().unwrap();
    let path = autosave_path(dir.path());
    let (kills, mut in_writes) = (20, 0);
    for k in 0..kills {
        in_writes += run_and_kill("autosave", dir.path(), &mut rng, k % 2 == 1) as usize;
        // Whole and readable, never truncated: it parses as a project of this photo.
        let saved = Project::load(&path)
            .unwrap_or_else(|e| panic!("kill {k} (seed {s}): autosave unreadable: {e:#}"));
        assert_eq!(saved.photo.as_deref(), Some(photo.as_path()));
        // The next start offers it back and restores exactly what was saved.
        let mut e = editor(dir.path(), false);
        let offered = e.recovery.clone().expect("the autosave is offered back");
        assert_eq!(offered, saved);
        e.accept_recovery();
        assert_eq!(e.doc.source, saved.source, "kill {k}");
        assert_eq!(e.doc.target, saved.target, "kill {k}");
        // The half-written autosave of a kill inside a write is cleared away at the start.
        assert_eq!(mid_write_leftovers(dir.path()), 0, "kill {k}");
    }
    println!("autosave: {kills} kills survived, {in_writes} of them inside a write (seed {s})");
}

/// Kills the child loop `mode` (an export to `file` in a temporary folder) `kills` times and
/// checks after each kill that `file` is whole with `check`.
fn kill_an_export(
    mode: &str,
    file: &str,
    kills: usize,
    check: impl Fn(&Path) -> Result<(), String>,
) {
    if marionette::detect::PoseDetector::load_default().is_err() {
        println!("SKIPPED: no pose detector models (the export builds a matte)");
        return;
    }
    let s = seed();
    let mut rng = SplitMix64::new(s);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(file);
    let mut in_writes = 0;
    for k in 0..kills {
        in_writes += run_and_kill(mode, dir.path(), &mut rng, k % 2 == 1) as usize;
        if let Err(e) = check(&out) {
            panic!("{mode}, kill {k} (seed {s}): {e}");
        }
    }
    println!("{mode}: {kills} kills survived, {in_writes} of them inside a write (seed {s})");
}

#[test]
fn killed_while_exporting_the_previous_export_is_whole() {
    kill_an_export("export", "reposed.png", 10, |out| {
        let img = image::open(out).map_err(|e| format!("the export is broken: {e}"))?;
        match img.width() == 512 && img.height() == 512 {
            true => Ok(()),
            false => Err(format!("{}×{}", img.width(), img.height())),
        }
    });
}

#[test]
fn killed_while_writing_an_animation_the_previous_gif_is_whole() {
    kill_an_export("animation", "wave.gif", 10, |out| {
        let file = std::fs::File::open(out).map_err(|e| e.to_string())?;
        let mut decoder = gif::DecodeOptions::new()
            .read_info(file)
            .map_err(|e| format!("the GIF is broken: {e}"))?;
        let mut frames = 0;
        while decoder
            .read_next_frame()
            .map_err(|e| format!("truncated GIF: {e}"))?
            .is_some()
        {
            frames += 1;
        }
        // 1 s at 8 fps = 9 frames, every one a different pose.
        match frames {
            9 => Ok(()),
            n => Err(format!("{n} frames")),
        }
    });
}
