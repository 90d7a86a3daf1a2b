//! The editor's full-resolution photo export follows the default method (issue 25): with
//! `MARIONETTE_METHOD=network` standing in for a changed `composite::DEFAULT_METHOD`, the file
//! the editor writes is exactly the pipeline's network edit, not the puppet's. One test in this
//! file: it sets the variable for its own process.

use marionette::app::{Editor, EditorOptions};
use marionette::composite::pipeline::{Edit, Method, Renderer};
use marionette::pose::skeleton::{R_ELBOW, R_SHOULDER};
use marionette::puppet::PuppetConfig;
use std::time::{Duration, Instant};

#[test]
fn the_photo_export_follows_the_default_method() {
    let Ok(detector) = marionette::detect::PoseDetector::load_default() else {
        println!("SKIPPED: no pose detector models");
        return;
    };
    let Some(dir) = marionette::app::editor::samples_dir() else {
        println!("SKIPPED: no samples folder");
        return;
    };
    std::env::set_var("MARIONETTE_METHOD", "network");
    std::env::set_var("CANDLE_NUM_THREADS", "1");
    let options = EditorOptions {
        detect: false,
        composite: false,
        ..Default::default()
    };
    let mut e = Editor::new(options, || {});
    e.open_photo(&dir.join("astronaut.png")).unwrap();
    e.edit(|doc| {
        let s = doc.target.points[R_SHOULDER];
        doc.target.rotate_limb(R_ELBOW, [s[0] - 120.0, s[1] - 60.0]);
    });
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("posed.png");
    e.export_photo(&file).unwrap();
    let t0 = Instant::now();
    while e.exporting() {
        e.tick();
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "the export never ended"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let written = image::open(&file)
        .unwrap_or_else(|err| panic!("{err}: {:?}", e.notice))
        .to_rgb8();

    // The same edit through the pipeline, by each method.
    let photo = e.photo.as_ref().unwrap().image.clone();
    let (source, target) = (e.doc.source.to_pose(), e.doc.target.to_pose());
    let layers =
        marionette::composite::build_layers(&detector, &photo, &source, &|| false).unwrap();
    let cfg = PuppetConfig::still();
    let edit = Edit {
        source: &source,
        target: &target,
        puppet: &cfg,
    };
    let device = candle_core::Device::Cpu;
    let by = |m: Method| {
        let mut r = Renderer::load(m, None, &device).unwrap();
        r.render(&photo, Some(&layers), &edit).unwrap().image
    };
    let (network, puppet) = (by(Method::Network), by(Method::Puppet));
    assert_ne!(network, puppet, "the two methods differ on this edit");
    assert!(written == network, "the export is the network's edit");
}
