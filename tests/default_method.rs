//! One default for every front end (issue 25): `MARIONETTE_METHOD` stands in for a changed
//! `composite::DEFAULT_METHOD`, and `render` without options and `animate` follow it — `render`
//! giving exactly what naming the method gives. (The editor's export is checked in
//! `editor_export.rs`, through the editor itself.)

use marionette::pose::rig::Rig;
use marionette::pose::skeleton::{R_ELBOW, R_SHOULDER};
use std::path::{Path, PathBuf};
use std::process::Command;

const SIDE: u32 = 160;

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/samples")
        .join(name)
}

/// The astronaut at 160×160 with her skeleton and one with the right arm swung out, written to
/// `dir` (photo.png, source.json, target.json, and the target as a one-frame driver clip).
fn inputs(dir: &Path) -> (PathBuf, PathBuf, PathBuf, PathBuf) {
    let photo = marionette::imaging::open_photo(&sample("astronaut.png")).unwrap();
    let k = SIDE as f32 / photo.width() as f32;
    let small = image::imageops::resize(&photo, SIDE, SIDE, image::imageops::FilterType::Triangle);
    let pose = marionette::pose::read_openpose(sample("astronaut_source.json"), 0)
        .unwrap()
        .scaled(k, k);
    let mut rig = Rig::from_pose(&pose, (SIDE as f32, SIDE as f32));
    let s = rig.points[R_SHOULDER];
    rig.rotate_limb(R_ELBOW, [s[0] - 40.0, s[1] - 20.0]);
    let paths = (
        dir.join("photo.png"),
        dir.join("source.json"),
        dir.join("target.json"),
        dir.join("clip"),
    );
    small.save(&paths.0).unwrap();
    let canvas = Some((SIDE, SIDE));
    marionette::pose::write_openpose(&paths.1, &pose, canvas).unwrap();
    marionette::pose::write_openpose(&paths.2, &rig.to_pose(), canvas).unwrap();
    std::fs::create_dir_all(&paths.3).unwrap();
    for i in 0..2 {
        let f = paths.3.join(format!("clip_{i:012}_keypoints.json"));
        marionette::pose::write_openpose(&f, &rig.to_pose(), canvas).unwrap();
    }
    paths
}

/// Runs the binary with `MARIONETTE_METHOD` set to `method` (unset for `None`); panics with
/// its stderr when it fails unless `fail` is expected.
fn marionette(method: Option<&str>, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_marionette"));
    cmd.args(args).env("CANDLE_NUM_THREADS", "1");
    match method {
        Some(m) => cmd.env("MARIONETTE_METHOD", m),
        None => cmd.env_remove("MARIONETTE_METHOD"),
    };
    cmd.output().unwrap()
}

fn ok(out: std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn render_and_animate_follow_the_default_method() {
    if let Err(e) = marionette::detect::PoseDetector::load_default() {
        println!("SKIPPED: no pose detector models ({e:#})");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (photo, source, target, clip) = inputs(dir.path());
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let render = |method: Option<&str>, extra: &[&str], out: &str| {
        let out = dir.path().join(out);
        let mut args = vec![
            "render".to_string(),
            "--image".into(),
            s(&photo),
            "--source-pose".into(),
            s(&source),
            "--target-pose".into(),
            s(&target),
            "--out".into(),
            s(&out),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(marionette(method, &args));
        std::fs::read(out).unwrap()
    };
    let network_default = render(Some("network"), &[], "a.png");
    let named_network = render(None, &["--model", "gfla"], "b.png");
    let puppet_default = render(Some("puppet"), &[], "c.png");
    let named_puppet = render(None, &["--model", "puppet"], "d.png");
    let refined_default = render(Some("refined"), &[], "r.png");
    let named_refined = render(None, &["--model", "refined"], "s.png");
    assert_eq!(network_default, named_network, "render follows the default");
    assert_eq!(puppet_default, named_puppet);
    assert_eq!(refined_default, named_refined);
    assert_ne!(network_default, puppet_default, "the methods differ");
    assert_ne!(
        refined_default, puppet_default,
        "the refiner changes the composite"
    );

    let animate = |method: Option<&str>, out: &str| {
        let out = dir.path().join(out);
        let args = [
            "animate",
            "--image",
            &s(&photo),
            "--source-pose",
            &s(&source),
            "--poses",
            &s(&clip),
            "--out",
            &s(&out),
        ];
        ok(marionette(method, &args));
        std::fs::read(out).unwrap()
    };
    let (net, pup, refined, plain) = (
        animate(Some("network"), "n.gif"),
        animate(Some("puppet"), "p.gif"),
        animate(Some("refined"), "r.gif"),
        animate(None, "u.gif"),
    );
    assert_ne!(net, pup, "animate follows the default");
    assert_ne!(refined, pup);
    use marionette::composite::Method;
    let expected = match marionette::composite::DEFAULT_METHOD {
        Method::Puppet => &pup,
        Method::Network => &net,
        Method::Refined => &refined,
    };
    assert_eq!(&plain, expected);

    // A method nobody knows is an error that names the variable, not a silent default.
    let bad = marionette(
        Some("magic"),
        &[
            "render",
            "--image",
            &s(&photo),
            "--source-pose",
            &s(&source),
            "--target-pose",
            &s(&target),
            "--out",
            &s(&dir.path().join("e.png")),
        ],
    );
    assert!(!bad.status.success());
    let why = String::from_utf8_lossy(&bad.stderr);
    assert!(why.contains("MARIONETTE_METHOD"), "{why}");
}
