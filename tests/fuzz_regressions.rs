//! Inputs the fuzzers (fuzz/, cargo-afl) found crashing, hanging or allocating without bound,
//! kept after the fix: tests/data/fuzz/<target>/<finding>. Each is read by the same reader the
//! fuzz target calls (fuzz/src/lib.rs) and must come back as an error, in reasonable time,
//! without a panic.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn text(data: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(data).map_err(|e| e.to_string())
}

/// The fuzz target's reader by target name: `Ok` when it accepted the input.
fn read(target: &str, data: &[u8]) -> Result<(), String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    match target {
        "pose_json" => {
            let text = text(data)?;
            let doc = marionette::pose::parse_openpose(text, 0).map_err(|x| e(&x))?;
            if doc.num_people > 1 {
                marionette::pose::parse_openpose(text, doc.num_people - 1).map_err(|x| e(&x))?;
            }
        }
        "project" => {
            marionette::app::project::Project::from_json(text(data)?, Path::new("p.json"))
                .map_err(|x| e(&x))?;
        }
        "keyframes" => {
            let t = marionette::animate::keyframes::Timeline::from_json(
                text(data)?,
                Path::new("k.json"),
            )
            .map_err(|x| e(&x))?;
            let n = t.frame_count(t.fps);
            for i in [0, n / 2, n.saturating_sub(1)] {
                let _ = t.frame(i, t.fps);
            }
        }
        "motion" => {
            marionette::animate::motion::motion_from_json(text(data)?, Path::new("m.json"))
                .map_err(|x| e(&x))?;
        }
        "safetensors" => {
            marionette::weights::load_state_dict_bytes(data, Path::new("w")).map_err(|x| e(&x))?;
        }
        "pth_zip" | "pth_legacy" => {
            marionette::weights::load_pth_bytes(data).map_err(|x| e(&x))?;
        }
        "pickle" => {
            const ALLOWED: &[&str] = &[
                "torch._utils._rebuild_tensor",
                "torch._utils._rebuild_tensor_v2",
                "torch._utils._rebuild_tensor_v3",
                "torch._utils._rebuild_parameter",
                "torch._utils._rebuild_parameter_with_state",
            ];
            marionette::weights::pickle::load(data, 0, ALLOWED).map_err(|x| e(&x))?;
        }
        "tflite" => {
            marionette::detect::tflite::Interpreter::from_bytes(data).map_err(|x| e(&x))?;
        }
        "image" => {
            marionette::imaging::decode_photo(data, Path::new("photo")).map_err(|x| e(&x))?;
        }
        other => panic!("tests/data/fuzz/{other}: no such fuzz target"),
    }
    Ok(())
}

fn findings() -> Vec<(String, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz");
    let mut out = Vec::new();
    for dir in std::fs::read_dir(&root).expect("tests/data/fuzz") {
        let dir = dir.unwrap().path();
        let target = dir.file_name().unwrap().to_string_lossy().into_owned();
        for file in std::fs::read_dir(&dir).unwrap() {
            out.push((target.clone(), file.unwrap().path()));
        }
    }
    out.sort();
    out
}

#[test]
fn fuzz_findings_are_clean_errors() {
    let findings = findings();
    assert!(!findings.is_empty(), "no inputs under tests/data/fuzz");
    for (target, path) in findings {
        let data = std::fs::read(&path).unwrap();
        let start = Instant::now();
        let result = read(&target, &data);
        let took = start.elapsed();
        assert!(
            result.is_err(),
            "{}: {target} accepted a malformed input",
            path.display()
        );
        // The hangs took seconds to minutes before their fixes; debug builds are slower, so
        // the bound is loose.
        assert!(
            took < Duration::from_secs(5),
            "{}: {target} took {took:?}",
            path.display()
        );
    }
}
