//! Animation end to end on a real photo (the astronaut): keyframes and a driver's poses through
//! the default pipeline into GIF, APNG and PNG frames; held poses rendered once; the untouched
//! photo bit-identical across frames; a cancelled export leaves nothing; `marionette animate`.

use marionette::animate::keyframes::{Easing, Keyframe, Timeline};
use marionette::animate::render::{write_frames, ExportSettings, Progress};
use marionette::composite::{build_layers, PhotoLayers};
use marionette::detect::PoseDetector;
use marionette::imaging::animation::AnimFormat;
use marionette::pose::rig::Rig;
use marionette::pose::skeleton::{R_ELBOW, R_SHOULDER};
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::Command;

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/samples")
        .join(name)
}

/// The astronaut at 160×160, her skeleton and layers; `None` (with a SKIPPED line) without the
/// detector's models.
fn astronaut() -> Option<(PhotoLayers, Rig)> {
    let detector = match PoseDetector::load_default() {
        Ok(d) => d,
        Err(e) => {
            println!("SKIPPED: no pose detector models ({e:#})");
            return None;
        }
    };
    let photo = marionette::imaging::open_photo(&sample("astronaut.png")).unwrap();
    let k = 160.0 / photo.width() as f32;
    let small = image::imageops::resize(&photo, 160, 160, image::imageops::FilterType::Triangle);
    let pose = marionette::pose::read_openpose(sample("astronaut_source.json"), 0)
        .unwrap()
        .scaled(k, k);
    let layers = build_layers(&detector, &small, &pose, &|| false).unwrap();
    Some((layers, Rig::from_pose(&pose, (160.0, 160.0))))
}

/// Rest → right upper arm swung out → held there → back.
fn wave(source: &Rig) -> Timeline {
    let mut out = source.clone();
    let s = out.points[R_SHOULDER];
    out.rotate_limb(R_ELBOW, [s[0] - 60.0, s[1] - 30.0]);
    let key = |rig: &Rig, duration: f32| Keyframe {
        duration,
        easing: Easing::EaseInOut,
        ..Keyframe::new(rig.clone())
    };
    Timeline {
        keyframes: vec![
            key(source, 0.5),
            key(&out, 0.5),
            key(&out, 0.5),
            key(source, 0.5),
        ],
        fps: 8.0,
    }
}

fn settings(fps: f32) -> ExportSettings {
    ExportSettings {
        fps,
        measure_flicker: true,
        ..Default::default()
    }
}

fn folder_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_keyframed_wave_exports_to_gif_apng_and_frames() {
    let Some((layers, source)) = astronaut() else {
        return;
    };
    let timeline = wave(&source);
    let frames = timeline.frames(timeline.fps);
    // Three half-second segments at 8 fps: frames at 0, 1/8, … 1.5 s.
    assert_eq!(frames.len(), 13);
    let dir = tempfile::tempdir().unwrap();
    let none = |_: Progress| {};

    // GIF: every output frame accounted for, the hold written once, the photo around the
    // person bit-identical from frame to frame.
    let gif_path = dir.path().join("wave.gif");
    let report = write_frames(
        &layers,
        &source,
        &frames,
        &gif_path,
        AnimFormat::Gif,
        &settings(8.0),
        &none,
        &|| false,
    )
    .unwrap();
    assert_eq!(report.frames, 13);
    // The hold (frames 4–8 equal) is one render.
    assert_eq!(report.rendered, 9, "{report:?}");
    let flicker = report.flicker.clone().unwrap();
    assert_eq!(flicker.static_mean, 0.0, "{flicker:?}");
    assert_eq!(flicker.static_max, 0, "{flicker:?}");
    assert!(flicker.person_mean > 0.5, "the arm moves: {flicker:?}");
    assert!(
        flicker.still_mean < 0.05,
        "the rest of her is still: {flicker:?}"
    );
    let mut decoder = gif::DecodeOptions::new();
    decoder.set_color_output(gif::ColorOutput::RGBA);
    let mut gif = decoder
        .read_info(std::fs::File::open(&gif_path).unwrap())
        .unwrap();
    assert_eq!((gif.width(), gif.height()), (160, 160));
    let (mut n, mut centis) = (0, 0u32);
    while let Some(f) = gif.read_next_frame().unwrap() {
        n += 1;
        centis += f.delay as u32;
    }
    assert_eq!(n, 9);
    // 13 frames at 8 fps = 162.5 cs; delays are whole centiseconds.
    assert!((centis as i32 - 163).abs() <= 1, "{centis} cs");

    // APNG: lossless, one frame per render, the same total time.
    let apng_path = dir.path().join("wave.png");
    write_frames(
        &layers,
        &source,
        &frames,
        &apng_path,
        AnimFormat::Apng,
        &settings(8.0),
        &none,
        &|| false,
    )
    .unwrap();
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&apng_path).unwrap(),
    ));
    let reader = decoder.read_info().unwrap();
    let info = reader.info();
    assert_eq!((info.width, info.height), (160, 160));
    assert_eq!(info.animation_control.map(|a| a.num_frames), Some(9));

    // PNG frames: one file per output frame, the held ones equal.
    let seq = dir.path().join("frames");
    write_frames(
        &layers,
        &source,
        &frames,
        &seq,
        AnimFormat::PngSequence,
        &settings(8.0),
        &none,
        &|| false,
    )
    .unwrap();
    let names = folder_names(&seq);
    assert_eq!(names.len(), 13, "{names:?}");
    let frame = |i: usize| image::open(seq.join(&names[i])).unwrap().to_rgb8();
    assert_eq!(frame(4), frame(8));
    assert_ne!(frame(0), frame(4));
    assert_eq!(frame(0), frame(12));
    // Frame 0 is the untouched pose: the photo itself.
    assert_eq!(frame(0), layers.photo);
}

#[test]
fn a_cancelled_export_leaves_the_old_file_and_no_partial_one() {
    let Some((layers, source)) = astronaut() else {
        return;
    };
    let timeline = wave(&source);
    let frames = timeline.frames(timeline.fps);
    let dir = tempfile::tempdir().unwrap();
    for (name, format) in [
        ("old.gif", AnimFormat::Gif),
        ("old.png", AnimFormat::Apng),
        ("new.gif", AnimFormat::Gif),
        ("seq", AnimFormat::PngSequence),
    ] {
        let path = dir.path().join(name);
        let existed = name.starts_with("old");
        if existed {
            std::fs::write(&path, b"the previous export").unwrap();
        }
        let polls = Cell::new(0);
        let cancel = || {
            polls.set(polls.get() + 1);
            polls.get() > 4
        };
        let err = write_frames(
            &layers,
            &source,
            &frames,
            &path,
            format,
            &settings(8.0),
            &|_| {},
            &cancel,
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("cancelled"), "{err:#}");
        if existed {
            assert_eq!(std::fs::read(&path).unwrap(), b"the previous export");
        } else {
            assert!(!path.exists(), "{name} was left behind");
        }
    }
    // Nothing temporary is left in the folder.
    assert_eq!(folder_names(dir.path()), vec!["old.gif", "old.png"]);
}

#[test]
fn animate_drives_the_photo_with_a_pose_sequence() {
    if PoseDetector::load_default().is_err() {
        println!("SKIPPED: no pose detector models");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("jj.gif");
    let o = Command::new(env!("CARGO_BIN_EXE_marionette"))
        .args(["animate", "--image"])
        .arg(sample("astronaut.png"))
        .arg("--source-pose")
        .arg(sample("astronaut_source.json"))
        .arg("--poses")
        .arg(sample("motion/jumping_jack.json"))
        .args(["--max-side", "128", "--range", "1:12", "--stats", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("12 frames at 12 fps, 128×128"), "{stdout}");
    assert!(stdout.contains("static 0.0000 (max 0)"), "{stdout}");
    let gif = gif::DecodeOptions::new()
        .read_info(std::fs::File::open(&out).unwrap())
        .unwrap();
    assert_eq!((gif.width(), gif.height()), (128, 128));
    // Bad input: an output format we do not write, a missing driver.
    for (extra, says) in [
        (
            vec!["--poses", "/nonexistent/poses", "--out", "x.gif"],
            "/nonexistent/poses",
        ),
        (
            vec![
                "--keyframes",
                "/dev/null",
                "--out",
                dir.path().join("x.mp4").to_str().unwrap(),
            ],
            "x.mp4",
        ),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_marionette"))
            .args(["animate", "--image"])
            .arg(sample("astronaut.png"))
            .args(["--source-pose"])
            .arg(sample("astronaut_source.json"))
            .args(&extra)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(says), "{err}");
    }
}
