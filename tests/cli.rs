//! The `marionette` binary end to end: `render` on the sample photo, `bench`, and the errors a
//! user sees for bad input.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn marionette(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_marionette"))
        .args(args)
        .output()
        .expect("run marionette")
}

fn sample(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/samples")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn render_args<'a>(image: &'a str, source: &'a str, target: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "render",
        "--raw",
        "--random-weights",
        "--config",
        "fashion",
        "--image",
        image,
        "--source-pose",
        source,
        "--target-pose",
        target,
        "--out",
        out,
    ]
}

#[test]
fn render_writes_result_flows_and_masks_at_the_annotation_frame_size() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    let (img, src, tgt) = (
        sample("astronaut.png"),
        sample("astronaut_source.json"),
        sample("astronaut_target.json"),
    );
    let (out, flow, mask) = (p("result.png"), p("flow.png"), p("mask.png"));
    let mut args = render_args(&img, &src, &tgt, &out);
    args.extend(["--flow", &flow, "--mask", &mask]);
    let o = marionette(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    // Fashion: the 256×256 input is a stretched view of the 256×176 annotation frame.
    for file in [
        "result.png",
        "flow.png",
        "flow_level3.png",
        "mask.png",
        "mask_level3.png",
    ] {
        let img = image::open(dir.path().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!((img.width(), img.height()), (176, 256), "{file}");
    }
    // The result is a real image (random weights give texture, not a constant), and the flow
    // picture uses the colour wheel (saturated colours appear, not only white).
    let result = image::open(&out).unwrap().to_rgb8();
    let first = *result.get_pixel(0, 0);
    assert!(result.pixels().any(|px| *px != first), "result is constant");
    let flow_img = image::open(&flow).unwrap().to_rgb8();
    assert!(flow_img
        .pixels()
        .any(|px| px.0.iter().max().unwrap() - px.0.iter().min().unwrap() > 40));
    // Nothing temporary is left behind (atomic writes).
    let leftovers: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn bad_inputs_fail_with_clear_messages_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    let (img, src, tgt) = (
        sample("astronaut.png"),
        sample("astronaut_source.json"),
        sample("astronaut_target.json"),
    );
    let out = p("out.png");

    std::fs::write(p("corrupt.png"), b"\x89PNG\r\n\x1a\n not really a png").unwrap();
    let o = marionette(&render_args(&p("corrupt.png"), &src, &tgt, &out));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("corrupt.png") && stderr(&o).contains("not a readable image"),
        "{}",
        stderr(&o)
    );

    std::fs::write(
        p("bad.json"),
        b"{\"people\": [{\"pose_keypoints_2d\": [1, 2]}]}",
    )
    .unwrap();
    let o = marionette(&render_args(&img, &p("bad.json"), &tgt, &out));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("bad.json"), "{}", stderr(&o));

    // A market-shaped checkpoint forced into the fashion preset: every wrong key is named.
    let market = common::gfla_fixture_dir().join("gfla_market128x64_weights.safetensors");
    let market = market.to_string_lossy();
    let o = marionette(&[
        "render",
        "--weights",
        &market,
        "--config",
        "fashion",
        "--image",
        &img,
        "--source-pose",
        &src,
        "--target-pose",
        &tgt,
        "--out",
        &out,
    ]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("mis-shaped:  target.attn1.fully_connect_layer.0.weight"),
        "{err}"
    );
    assert!(
        err.contains("missing:     target.attn0.fully_connect_layer.0.weight"),
        "{err}"
    );
    assert!(!Path::new(&out).exists(), "no output after a failure");
}

#[test]
fn bench_reports_the_median_on_its_last_line() {
    let market = common::gfla_fixture_dir().join("gfla_market128x64_weights.safetensors");
    let o = marionette(&[
        "bench",
        "--weights",
        &market.to_string_lossy(),
        "--runs",
        "3",
        "--warmup",
        "0",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let last = stdout.lines().last().unwrap();
    let ms: f64 = last
        .strip_prefix("gfla_ms ")
        .unwrap_or_else(|| panic!("last line `{last}`"))
        .parse()
        .unwrap();
    assert!(ms > 0.0);
    // The checkpoint's architecture (one attention level, Market's 128×64 input) is used, not
    // the default fashion preset.
    assert!(
        stdout.contains("GFLA 128×64") && stdout.contains("attn [2]"),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("runs (ms):") && l.split_whitespace().count() == 5),
        "{stdout}"
    );
}

#[test]
fn render_and_bench_run_pona_through_the_same_interface() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pona.png").to_string_lossy().into_owned();
    let (img, src, tgt) = (
        sample("astronaut.png"),
        sample("astronaut_source.json"),
        sample("astronaut_target.json"),
    );
    let mut args = render_args(&img, &src, &tgt, &out);
    args.extend(["--model", "pona"]);
    // The market preset (128×64) keeps this quick.
    let pos = args.iter().position(|a| *a == "fashion").unwrap();
    args[pos] = "market";
    let o = marionette(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let result = image::open(&out).unwrap();
    assert_eq!((result.width(), result.height()), (64, 128));

    // PoNA explains itself with attention, not flows: asking for a flow image is a clear error.
    let flow = dir.path().join("flow.png").to_string_lossy().into_owned();
    args.extend(["--flow", &flow]);
    let o = marionette(&args);
    assert!(
        !o.status.success() && stderr(&o).contains("PoNA has no flow field"),
        "{}",
        stderr(&o)
    );

    let pona_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/pona");
    let weights = pona_dir.join("market_bn_weights.safetensors");
    let o = marionette(&[
        "bench",
        "--model",
        "pona",
        "--weights",
        &weights.to_string_lossy(),
        "--size",
        "64x32",
        "--runs",
        "3",
        "--warmup",
        "0",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.lines().last().unwrap().starts_with("pona_ms "),
        "{stdout}"
    );
    assert!(
        stdout.contains("PoNA 64×32, ngf 6 Batch norm, 3 blocks"),
        "{stdout}"
    );
}

/// Without `--weights`, `render --model gfla` uses the shipped model (trained on synthetic
/// people): with `--raw` it writes its keypoint frame, keeps the person when the pose
/// does not change, and moves the arm when it does.
#[test]
fn render_without_weights_uses_the_shipped_model() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    let (img, src, tgt) = (
        sample("astronaut.png"),
        sample("astronaut_source.json"),
        sample("astronaut_target.json"),
    );
    let run = |target: &str, out: &str| {
        let o = marionette(&[
            "render",
            "--model",
            "gfla",
            "--raw",
            "--image",
            &img,
            "--source-pose",
            &src,
            "--target-pose",
            target,
            "--out",
            out,
            "--flow",
            &p("flow.png"),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        image::open(out).unwrap().to_rgb8()
    };
    let same = run(&src, &p("same.png"));
    let moved = run(&tgt, &p("moved.png"));
    // The frame is the shipped model's input, stored with its weights.
    let shipped = marionette::model::shipped::default_gfla_weights().unwrap();
    let cfg = marionette::model::gfla::weights::stored_config(&shipped)
        .unwrap()
        .expect("the shipped weights carry their configuration");
    let frame = (cfg.input_hw.1 as u32, cfg.input_hw.0 as u32);
    assert_eq!(same.dimensions(), frame);
    assert_eq!(moved.dimensions(), frame);
    // Flow pictures of both attention levels, drawn at the frame size.
    for f in ["flow.png", "flow_level3.png"] {
        let flow = image::open(p(f)).unwrap();
        assert_eq!((flow.width(), flow.height()), frame, "{f}");
    }
    let mean_diff = |a: &image::RgbImage, b: &image::RgbImage| {
        a.as_raw()
            .iter()
            .zip(b.as_raw())
            .map(|(x, y)| (*x as f64 - *y as f64).abs())
            .sum::<f64>()
            / a.as_raw().len() as f64
    };
    let spread = {
        let v = same.as_raw();
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
        v.iter().map(|&x| (x as f64 - mean).abs()).sum::<f64>() / v.len() as f64
    };
    assert!(spread > 10.0, "identity render is nearly flat ({spread})");
    let d = mean_diff(&same, &moved);
    assert!(d > 0.5, "moving the arm changed nothing ({d})");
}

/// `--model puppet` warps the whole photo at its own size, moving only the figure.
#[test]
fn render_puppet_warps_the_photo_at_full_resolution() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    let (img, src, tgt) = (
        sample("astronaut.png"),
        sample("astronaut_source.json"),
        sample("astronaut_target.json"),
    );
    let (out, flow) = (p("puppet.png"), p("flow.png"));
    let o = marionette(&[
        "render",
        "--model",
        "puppet",
        "--image",
        &img,
        "--source-pose",
        &src,
        "--target-pose",
        &tgt,
        "--out",
        &out,
        "--flow",
        &flow,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let photo = image::open(&img).unwrap().to_rgb8();
    let warped = image::open(&out).unwrap().to_rgb8();
    assert_eq!(warped.dimensions(), photo.dimensions());
    // The top of the photo (head, far from the moved elbow) is untouched; the elbow region moves.
    let rows_differ = |y0: u32, y1: u32| {
        (y0..y1)
            .any(|y| (0..photo.width()).any(|x| photo.get_pixel(x, y) != warped.get_pixel(x, y)))
    };
    assert!(!rows_differ(0, 150), "the head moved");
    assert!(rows_differ(300, 450), "the arm did not move");
    let o = marionette(&[
        "render",
        "--model",
        "puppet",
        "--random-weights",
        "--image",
        &img,
        "--source-pose",
        &src,
        "--target-pose",
        &tgt,
        "--out",
        &out,
    ]);
    assert!(
        !o.status.success() && stderr(&o).contains("no weights"),
        "{}",
        stderr(&o)
    );
}

/// `--model puppet` composites the person into the photo when a matte can be had (the pose
/// detector's models), and `--layers` writes what it was made of; `--raw` is the plain warp.
#[test]
fn render_puppet_composites_and_writes_its_layers() {
    if marionette::detect::PoseDetector::load_default().is_err() {
        eprintln!("SKIPPED render_puppet_composites_and_writes_its_layers: no BlazePose models");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    let (img, src) = (sample("astronaut.png"), sample("astronaut_source.json"));
    // Target = source: the composite is the photo itself.
    let (out, layers) = (p("same.png"), p("layers"));
    let o = marionette(&[
        "render",
        "--model",
        "puppet",
        "--image",
        &img,
        "--source-pose",
        &src,
        "--target-pose",
        &src,
        "--out",
        &out,
        "--layers",
        &layers,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let photo = image::open(&img).unwrap().to_rgb8();
    assert_eq!(image::open(&out).unwrap().to_rgb8(), photo);
    for f in ["matte.png", "plate.png", "person.png", "vacated.png"] {
        let layer = image::open(dir.path().join("layers").join(f)).unwrap();
        assert_eq!(layer.width(), photo.width(), "{f}");
    }
    let o = marionette(&[
        "render",
        "--model",
        "pona",
        "--random-weights",
        "--image",
        &img,
        "--source-pose",
        &src,
        "--target-pose",
        &src,
        "--out",
        &out,
        "--layers",
        &layers,
    ]);
    assert!(
        !o.status.success() && stderr(&o).contains("no layers"),
        "{}",
        stderr(&o)
    );
}

/// `render` without `--model` is the default method (the puppet, composited): the photo's own
/// size, the photo itself when nothing moves. `--model gfla` composites the network's edit
/// into the photo too: photo-sized, untouched away from the person.
#[test]
fn render_defaults_to_the_composited_photo() {
    if marionette::detect::PoseDetector::load_default().is_err() {
        eprintln!("SKIPPED render_defaults_to_the_composited_photo: no BlazePose models");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    let (img, src, tgt) = (
        sample("astronaut.png"),
        sample("astronaut_source.json"),
        sample("astronaut_target.json"),
    );
    let photo = image::open(&img).unwrap().to_rgb8();
    let render = |model: Option<&str>, target: &str, out: &str| {
        let mut args = vec!["render"];
        if let Some(m) = model {
            args.extend(["--model", m]);
        }
        args.extend([
            "--image",
            &img,
            "--source-pose",
            &src,
            "--target-pose",
            target,
            "--out",
            out,
        ]);
        let o = marionette(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        image::open(out).unwrap().to_rgb8()
    };
    let same = render(None, &src, &p("same.png"));
    assert_eq!(same, photo, "nothing moved, yet the photo changed");
    let moved = render(None, &tgt, &p("moved.png"));
    assert_eq!(moved.dimensions(), photo.dimensions());
    assert_ne!(moved, photo);
    let net = render(Some("gfla"), &tgt, &p("gfla.png"));
    assert_eq!(net.dimensions(), photo.dimensions());
    // The shuttle on the right, far from the figure, is the photo's, to rounding.
    for y in 0..200 {
        for x in 470..photo.width() {
            let (a, b) = (net.get_pixel(x, y).0, photo.get_pixel(x, y).0);
            assert!(
                a.iter().zip(b).all(|(u, v)| u.abs_diff(v) <= 2),
                "({x}, {y})"
            );
        }
    }
    // Nothing moved: the shipped network (128×96, synthetic people) neither copies the photo
    // exactly nor wrecks it (21.2 dB measured; the face is the network's).
    let net_same = render(Some("gfla"), &src, &p("gfla_same.png"));
    let db = marionette::eval::metrics::psnr(&net_same, &photo).unwrap();
    assert!(
        db > 19.0,
        "the network's composite is far from the photo: {db:.1} dB"
    );
}

/// `marionette edit` checks what it can before opening a window: a bad device or a missing
/// project fails with a message (no window appears), and the editor is the default command.
#[test]
fn edit_refuses_bad_arguments_before_opening_a_window() {
    let o = marionette(&["edit", "--device", "tpu", "--no-autosave"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("unknown device `tpu`"),
        "{}",
        stderr(&o)
    );
    let o = marionette(&["edit", "a.png", "--project", "b.json"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("cannot be used with"), "{}", stderr(&o));
    let help = marionette(&["--help"]);
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("edit") && text.contains("Open the desktop editor (the default)"),
        "{text}"
    );
}

#[test]
fn detect_writes_openpose_json_and_a_drawing() {
    use std::io::Write;
    if let Err(e) = marionette::detect::models::find() {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED detect_writes_openpose_json_and_a_drawing: {e:#}"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let photo = sample("astronaut.png");
    let json = dir.path().join("astronaut_detected.json");
    let overlay = dir.path().join("overlay.png");
    let out = marionette(&[
        "detect",
        &photo,
        "--json",
        json.to_str().unwrap(),
        "--overlay",
        overlay.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("joints confident") && stdout.contains("nose"),
        "{stdout}"
    );
    // The JSON is OpenPose with the photo's canvas, and reads back as the same skeleton the
    // library finds.
    let pose = marionette::pose::read_openpose(&json, 0).unwrap();
    let img = image::open(&photo).unwrap().to_rgb8();
    let det = marionette::detect::PoseDetector::load_default()
        .unwrap()
        .detect(&img)
        .unwrap()
        .expect("the astronaut is found");
    assert_eq!(pose.num_present(), det.pose.num_present());
    for (j, p) in det.pose.present() {
        let q = pose.get(j).unwrap();
        assert!(
            (p.x - q.x).abs() < 0.01 && (p.y - q.y).abs() < 0.01,
            "joint {j}"
        );
    }
    let drawn = image::open(&overlay).unwrap().to_rgb8();
    assert_eq!(drawn.dimensions(), img.dimensions());
    assert_ne!(drawn, img, "the skeleton is drawn");

    // No person: a clear failure that writes nothing.
    let grey = dir.path().join("grey.png");
    image::RgbImage::from_pixel(64, 48, image::Rgb([120, 120, 120]))
        .save(&grey)
        .unwrap();
    let none_json = dir.path().join("none.json");
    let out = marionette(&[
        "detect",
        grey.to_str().unwrap(),
        "--json",
        none_json.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no person found"), "{}", stderr(&out));
    assert!(!none_json.exists());

    // A corrupt photo names the file.
    let bad = dir.path().join("bad.png");
    std::fs::write(&bad, b"not a png").unwrap();
    let out = marionette(&["detect", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("bad.png"), "{}", stderr(&out));
}

#[test]
fn inpaint_fills_the_hole_keeps_the_rest_and_reports_bad_masks() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (96u32, 80u32);
    let photo = image::RgbImage::from_fn(w, h, |x, _| {
        if x % 8 < 4 {
            image::Rgb([30, 40, 50])
        } else {
            image::Rgb([200, 190, 180])
        }
    });
    let hole = image::GrayImage::from_fn(w, h, |x, y| {
        image::Luma([if (30..60).contains(&x) && (20..50).contains(&y) {
            255
        } else {
            0
        }])
    });
    let (photo_p, hole_p) = (dir.path().join("photo.png"), dir.path().join("hole.png"));
    photo.save(&photo_p).unwrap();
    hole.save(&hole_p).unwrap();
    let (photo_s, hole_s) = (photo_p.to_str().unwrap(), hole_p.to_str().unwrap());
    for method in ["patchmatch", "diffusion"] {
        let out = dir.path().join(format!("{method}.png"));
        let o = marionette(&[
            "inpaint",
            "--image",
            photo_s,
            "--hole",
            hole_s,
            "--out",
            out.to_str().unwrap(),
            "--method",
            method,
            "--seed",
            "3",
        ]);
        assert!(o.status.success(), "{method}: {}", stderr(&o));
        let filled = image::open(&out).unwrap().to_rgb8();
        let mut hole_differs = false;
        for ((a, b), m) in filled.pixels().zip(photo.pixels()).zip(hole.pixels()) {
            if m[0] == 0 {
                assert_eq!(a, b, "{method} changed a pixel outside the hole");
            }
            hole_differs |= m[0] > 0 && a != b;
        }
        // The photo inside the hole is the stripes themselves: PatchMatch puts them back
        // exactly, diffusion greys them out.
        assert_eq!(!hole_differs, method == "patchmatch", "{method}");
    }
    // A mask of another size: a clear error, nothing written.
    let small = dir.path().join("small.png");
    image::GrayImage::new(10, 10).save(&small).unwrap();
    let out = dir.path().join("never.png");
    let o = marionette(&[
        "inpaint",
        "--image",
        photo_s,
        "--hole",
        small.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("10×10 but the image is 96×80"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
    // Benchmark at a small size: the median on the last line.
    let o = marionette(&[
        "bench", "--model", "inpaint", "--size", "96x64", "--runs", "1", "--warmup", "0",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    let last = text.lines().last().unwrap_or_default();
    let ms: f64 = last
        .strip_prefix("inpaint_ms ")
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1.0);
    assert!(ms >= 0.0, "last line: {last}");
    assert!(text.contains("PSNR"), "{text}");
}
