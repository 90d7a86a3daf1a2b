//! Tests of the `pose` module: the heat-map encoder against the GFLA reference fixtures and
//! analytic facts, the OpenPose / annotation / pose-fixture formats, and the skeleton tables.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use marionette::pose::{
    format_annotation_row, heatmap_tensor, heatmaps, mirror_index, parse_annotation_row,
    parse_openpose, pose_from_yx, read_annotation_csv, read_openpose, read_openpose_with_canvas,
    to_openpose_json, write_openpose, Joint, Pose, PoseError, HEATMAP_SIGMA, JOINT_COLORS,
    JOINT_NAMES, LIMBS, LIMB_COLORS, NUM_JOINTS,
};
use serde_json::{json, Value};

/// `../shared/fixtures/<sub>` next to the crate, or the directory in `env_var` when set.
fn fixture_dir(env_var: &str, sub: &str) -> PathBuf {
    match std::env::var_os(env_var) {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/fixtures")
            .join(sub),
    }
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn hw(v: &Value) -> (usize, usize) {
    let a = v.as_array().expect("[h, w]");
    (
        a[0].as_u64().unwrap() as usize,
        a[1].as_u64().unwrap() as usize,
    )
}

/// A pose with distinct, non-integer coordinates in every joint.
fn sample_pose() -> Pose {
    let mut pose = Pose::missing();
    for j in 0..NUM_JOINTS {
        let joint = Joint::new(
            10.25 + 7.5 * j as f32,
            200.0 - 9.125 * j as f32,
            0.3 + 0.03 * j as f32,
        );
        pose.set(j, Some(joint));
    }
    pose
}

// ---------------------------------------------------------------------------------------------
// Heat-maps

#[test]
fn heatmaps_match_gfla_fixtures() {
    let dir = fixture_dir("MARIONETTE_GFLA_FIXTURES", "gfla");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "GFLA fixtures not found at {} ({e}); set MARIONETTE_GFLA_FIXTURES",
            dir.display()
        )
    });
    let mut json_files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("gfla_") && name.ends_with(".json")
        })
        .collect();
    json_files.sort();

    let mut checked = 0;
    for json_path in json_files {
        let meta = read_json(&json_path);
        // Model fixtures are the ones with keypoints; the ops fixture has none.
        let Some(keypoints) = meta.get("keypoints") else {
            continue;
        };
        let frame_hw = hw(&keypoints["frame_hw_of_keypoints(old_size)"]);
        let image_hw = hw(&meta["image_hw"]);
        let io_name = meta["files"]["io"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| {
                format!(
                    "{}_io.safetensors",
                    json_path.file_stem().unwrap().to_string_lossy()
                )
            });
        let tensors = candle_core::safetensors::load(dir.join(&io_name), &Device::Cpu).unwrap();

        for side in ["source", "target"] {
            let kp = tensors[&format!("input.{side}_keypoints")]
                .to_vec3::<i32>()
                .unwrap();
            let poses: Vec<Pose> = kp
                .iter()
                .map(|rows| {
                    assert_eq!(rows.len(), NUM_JOINTS);
                    let ys: [f64; NUM_JOINTS] = std::array::from_fn(|j| f64::from(rows[j][0]));
                    let xs: [f64; NUM_JOINTS] = std::array::from_fn(|j| f64::from(rows[j][1]));
                    pose_from_yx(&ys, &xs)
                })
                .collect();
            let missing: usize = poses.iter().map(|p| NUM_JOINTS - p.num_present()).sum();

            let ours = heatmap_tensor(&poses, frame_hw, image_hw, &Device::Cpu).unwrap();
            let reference = &tensors[&format!("input.{side}_pose")];
            assert_eq!(ours.dims(), reference.dims());
            let diff = (&ours - reference).unwrap().abs().unwrap();
            let max_diff: f32 = diff
                .flatten_all()
                .unwrap()
                .max(0)
                .unwrap()
                .to_scalar()
                .unwrap();
            let not_exact: f32 = diff
                .gt(0f32)
                .unwrap()
                .to_dtype(candle_core::DType::F32)
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar()
                .unwrap();
            println!(
                "{} {side}: {} poses ({missing} missing joints), frame {frame_hw:?} -> {image_hw:?}: \
                 max abs diff {max_diff:e}, {not_exact} of {} values not bit-identical",
                json_path.file_name().unwrap().to_string_lossy(),
                poses.len(),
                diff.elem_count()
            );
            assert!(
                max_diff <= 1e-6,
                "{}: max abs diff {max_diff}",
                json_path.display()
            );
            checked += 1;
        }
    }
    assert!(
        checked > 0,
        "no GFLA model fixture (JSON with `keypoints`) in {}",
        dir.display()
    );
}

#[test]
fn heatmap_peak_falloff_and_missing_joints() {
    let frame_hw = (256, 176);
    let out_hw = (256, 256);
    let (h, w) = out_hw;
    let mut pose = Pose::missing();
    pose.set(3, Some(Joint::new(100.0, 50.0, 1.0)));
    let maps = heatmaps(&pose, frame_hw, out_hw);
    assert_eq!(maps.len(), NUM_JOINTS * h * w);

    // The peak sits at the truncated scaled position (x: 100/176·256 = 145.45… → 145).
    let yi = (50.0f64 / 256.0 * 256.0) as usize;
    let xi = (100.0f64 / 176.0 * 256.0) as usize;
    assert_eq!((yi, xi), (50, 145));
    let channel = &maps[3 * h * w..4 * h * w];
    assert_eq!(channel[yi * w + xi], 1.0);
    let argmax = (0..h * w)
        .max_by(|&a, &b| channel[a].total_cmp(&channel[b]))
        .unwrap();
    assert_eq!(argmax, yi * w + xi);

    // Value at squared distance d² is exp(−d²/(2σ²)) = exp(−d²/72), in every direction.
    assert_eq!(2.0 * HEATMAP_SIGMA * HEATMAP_SIGMA, 72.0);
    for (dy, dx) in [(3i64, 4i64), (-4, 3), (0, -10), (12, 0), (-7, -9), (20, 30)] {
        let (r, c) = ((yi as i64 + dy) as usize, (xi as i64 + dx) as usize);
        let d2 = (dy * dy + dx * dx) as f64;
        let expected = (-d2 / 72.0).exp() as f32;
        assert_eq!(channel[r * w + c], expected, "at offset ({dy}, {dx})");
    }
    // Far away, the Gaussian underflows to exactly zero (no clipping, just float32).
    assert_eq!(channel[255 * w], 0.0);

    // Missing joints give all-zero channels.
    for j in (0..NUM_JOINTS).filter(|&j| j != 3) {
        assert!(
            maps[j * h * w..(j + 1) * h * w].iter().all(|&v| v == 0.0),
            "channel {j}"
        );
    }
    assert!(heatmaps(&Pose::missing(), frame_hw, out_hw)
        .iter()
        .all(|&v| v == 0.0));
}

#[test]
fn heatmap_truncates_toward_zero_and_keeps_off_map_tails() {
    // Frame 128×128 → map 64×64: coordinates halve.
    let (h, w) = (64, 64);
    let mut pose = Pose::missing();
    // Slightly left of the frame: x' = −0.495, truncated toward zero → column 0 (not −1).
    pose.set(0, Some(Joint::new(-0.99, 21.0, 1.0)));
    // Right of the frame: peak at column 80, off the 64-wide map, but its tail still shows.
    pose.set(1, Some(Joint::new(161.0, 21.0, 1.0)));
    let maps = heatmaps(&pose, (128, 128), (h, w));
    let r = 10; // 21 / 2 = 10.5 → 10
    assert_eq!(maps[r * w], 1.0);
    assert_eq!(maps[r * w + 1], (-1.0f64 / 72.0).exp() as f32);
    let tail = maps[h * w + r * w + (w - 1)];
    let d2 = (80.0 - (w - 1) as f64).powi(2);
    assert_eq!(tail, (-d2 / 72.0).exp() as f32);
    assert!(tail > 0.0);
}

#[test]
fn heatmap_tensor_stacks_poses() {
    let a = sample_pose().scaled(0.5, 0.5);
    let mut b = sample_pose();
    b.set(4, None);
    let t: Tensor =
        heatmap_tensor(&[a.clone(), b.clone()], (256, 176), (32, 24), &Device::Cpu).unwrap();
    assert_eq!(t.dims(), &[2, NUM_JOINTS, 32, 24]);
    let flat: Vec<f32> = t.flatten_all().unwrap().to_vec1().unwrap();
    let expected: Vec<f32> = [a, b]
        .iter()
        .flat_map(|p| heatmaps(p, (256, 176), (32, 24)))
        .collect();
    assert_eq!(flat, expected);

    // Speed at the DeepFashion model size (reported, not asserted: machines differ).
    let pose = sample_pose();
    let start = std::time::Instant::now();
    let runs = 20;
    for _ in 0..runs {
        std::hint::black_box(heatmaps(&pose, (256, 176), (256, 256)));
    }
    println!(
        "heatmaps 18×256×256: {:.2} ms per pose",
        start.elapsed().as_secs_f64() * 1e3 / runs as f64
    );
}

// ---------------------------------------------------------------------------------------------
// Pose type and skeleton

#[test]
fn pose_geometry() {
    let mut pose = Pose::missing();
    assert_eq!(pose.num_present(), 0);
    assert_eq!(pose.bbox(), None);
    pose.set(0, Some(Joint::new(10.0, 20.0, 0.9)));
    pose.set(5, Some(Joint::new(-4.0, 50.0, 0.8)));
    pose.set(9, Some(Joint::new(30.0, 5.0, 0.7)));
    assert_eq!(pose.num_present(), 3);
    assert_eq!(pose.get(5), Some(Joint::new(-4.0, 50.0, 0.8)));
    assert_eq!(pose.get(6), None);
    assert_eq!(pose.bbox(), Some((-4.0, 5.0, 30.0, 50.0)));

    let moved = pose.map_points(|x, y| (x + 1.0, 2.0 * y));
    assert_eq!(moved.get(0), Some(Joint::new(11.0, 40.0, 0.9)));
    assert_eq!(moved.get(6), None);
    assert_eq!(moved.num_present(), 3);
    let scaled = pose.scaled(2.0, 0.5);
    assert_eq!(scaled.get(9), Some(Joint::new(60.0, 2.5, 0.7)));
    pose.set(0, None);
    assert_eq!(pose.num_present(), 2);
}

#[test]
fn skeleton_tables() {
    assert_eq!(LIMBS.len(), 19);
    assert_eq!(LIMB_COLORS.len(), LIMBS.len());
    assert_eq!(JOINT_COLORS.len(), NUM_JOINTS);
    assert!(LIMBS
        .iter()
        .all(|&(a, b)| a < NUM_JOINTS && b < NUM_JOINTS && a != b));
    for (j, name) in JOINT_NAMES.iter().enumerate() {
        let m = mirror_index(j);
        assert_eq!(mirror_index(m), j, "mirror is an involution");
        // Names swap r_ ↔ l_; nose and neck stay.
        let expected = match name.split_once('_') {
            Some(("r", rest)) => format!("l_{rest}"),
            Some(("l", rest)) => format!("r_{rest}"),
            _ => name.to_string(),
        };
        assert_eq!(JOINT_NAMES[m], expected);
    }
    // Mirroring maps the limb set onto itself.
    for &(a, b) in &LIMBS {
        let (ma, mb) = (mirror_index(a), mirror_index(b));
        assert!(
            LIMBS.iter().any(|&l| l == (ma, mb) || l == (mb, ma)),
            "limb ({a},{b})"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// OpenPose JSON

#[test]
fn openpose_round_trip_in_memory_and_on_disk() {
    let mut pose = sample_pose();
    pose.set(4, None);
    pose.set(13, None);
    pose.set(17, None);
    let doc = to_openpose_json(&pose, Some((176, 256)));
    assert_eq!(doc["version"], json!(1.3));
    assert_eq!(doc["people"].as_array().unwrap().len(), 1);
    assert_eq!(
        doc["people"][0]["pose_keypoints_2d"]
            .as_array()
            .unwrap()
            .len(),
        54
    );
    assert_eq!(doc["people"][0]["pose_keypoints_2d"][12], json!(0));

    let back = parse_openpose(&doc.to_string(), 0).unwrap();
    assert_eq!(back.pose, pose);
    assert_eq!(back.canvas, Some((176, 256)));
    assert_eq!(back.num_people, 1);
    let no_canvas = parse_openpose(&to_openpose_json(&pose, None).to_string(), 0).unwrap();
    assert_eq!((no_canvas.pose, no_canvas.canvas), (pose.clone(), None));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pose.json");
    write_openpose(&path, &pose, Some((176, 256))).unwrap();
    assert!(
        !dir.path().join("pose.json.tmp").exists(),
        "temporary file renamed away"
    );
    assert_eq!(read_openpose(&path, 0).unwrap(), pose);
    // Overwriting works (rename over an existing file).
    write_openpose(&path, &Pose::missing(), None).unwrap();
    assert_eq!(read_openpose(&path, 0).unwrap(), Pose::missing());
}

#[test]
fn openpose_missing_joint_rules_and_person_choice() {
    let text = json!({
        "people": [
            {"pose_keypoints_2d": vec![0.0; 54]},
            {"pose_keypoints_2d": (0..54).map(|i| match i {
                0..=2 => [5.0, 6.0, 0.0][i],        // confidence 0 → missing
                3..=5 => [-1.0, 6.0, 0.9][i - 3],    // x = −1 → missing
                6..=8 => [7.0, 8.0, 0.5][i - 6],     // present
                _ => 1.0 + i as f64,
            }).collect::<Vec<f64>>()}
        ]
    })
    .to_string();
    let first = parse_openpose(&text, 0).unwrap();
    assert_eq!(first.pose, Pose::missing());
    assert_eq!(first.num_people, 2);
    let second = parse_openpose(&text, 1).unwrap().pose;
    assert_eq!(second.get(0), None);
    assert_eq!(second.get(1), None);
    assert_eq!(second.get(2), Some(Joint::new(7.0, 8.0, 0.5)));
    assert_eq!(second.num_present(), 16);
    let err = parse_openpose(&text, 2).unwrap_err();
    assert!(
        matches!(
            err,
            PoseError::NoPerson {
                requested: 2,
                available: 2
            }
        ),
        "{err}"
    );
}

#[test]
fn openpose_body25_maps_to_coco18() {
    // Distinct values per BODY_25 joint k: x = 1000 + k, y = 2000 + k, c = 0.5 + k/100.
    let values: Vec<f64> = (0..25)
        .flat_map(|k| [1000.0 + k as f64, 2000.0 + k as f64, 0.5 + k as f64 / 100.0])
        .collect();
    let pose = parse_openpose(
        &json!({"people": [{"pose_keypoints_2d": values}]}).to_string(),
        0,
    )
    .unwrap()
    .pose;
    assert_eq!(pose.num_present(), NUM_JOINTS);
    // COCO joints 0..7 are BODY_25 0..7; COCO 8..17 are BODY_25 9..18 (MidHip 8 skipped).
    for j in 0..NUM_JOINTS {
        let k = if j < 8 { j } else { j + 1 };
        let p = pose.get(j).unwrap();
        assert_eq!(
            (p.x, p.y),
            (1000.0 + k as f32, 2000.0 + k as f32),
            "COCO joint {j}"
        );
        assert_eq!(p.confidence, (0.5 + k as f64 / 100.0) as f32);
    }
    // MidHip (8) and the feet (19..24) appear nowhere.
    assert!(pose.present().all(|(_, p)| p.x != 1008.0 && p.x < 1019.0));
}

#[test]
fn openpose_normalised_coordinates_use_the_canvas() {
    let mut values = vec![0.0; 54];
    values[0..3].copy_from_slice(&[0.25, 0.5, 0.9]);
    values[3..6].copy_from_slice(&[1.0, 0.0, 0.8]);
    let doc = |canvas: bool, values: &[f64]| {
        let mut v = json!({"version": 1.3, "people": [{"pose_keypoints_2d": values}]});
        if canvas {
            v["canvas_width"] = json!(200);
            v["canvas_height"] = json!(100);
        }
        parse_openpose(&v.to_string(), 0).unwrap().pose
    };
    let pose = doc(true, &values);
    assert_eq!(pose.get(0), Some(Joint::new(50.0, 50.0, 0.9)));
    assert_eq!(pose.get(1), Some(Joint::new(200.0, 0.0, 0.8)));
    // Without a canvas the numbers are pixels.
    assert_eq!(doc(false, &values).get(0), Some(Joint::new(0.25, 0.5, 0.9)));
    // One coordinate outside [0, 1] means pixels, even with a canvas.
    values[6..9].copy_from_slice(&[3.0, 0.5, 0.7]);
    assert_eq!(doc(true, &values).get(0), Some(Joint::new(0.25, 0.5, 0.9)));
}

#[test]
fn openpose_errors_say_what_is_wrong() {
    let msg = |text: &str| parse_openpose(text, 0).unwrap_err().to_string();

    let bad_count = msg(&json!({"people": [{"pose_keypoints_2d": vec![1.0; 60]}]}).to_string());
    assert!(
        bad_count.contains("60 numbers") && bad_count.contains("54"),
        "{bad_count}"
    );

    let mut values = vec![json!(1.0); 54];
    values[4] = json!("abc");
    let non_number = msg(&json!({"people": [{"pose_keypoints_2d": values}]}).to_string());
    assert!(
        non_number.contains("pose_keypoints_2d[4]") && non_number.contains("expected a number"),
        "{non_number}"
    );

    let empty = parse_openpose(r#"{"version": 1.3, "people": []}"#, 0).unwrap_err();
    assert!(matches!(
        empty,
        PoseError::NoPerson {
            requested: 0,
            available: 0
        }
    ));
    assert!(empty.to_string().contains("no person"), "{empty}");

    let invalid = msg(r#"{"people": [ {"pose_keypoints_2d": [1, 2,"#);
    assert!(invalid.contains("invalid JSON"), "{invalid}");

    let no_keypoints = msg(r#"{"people": [{"face_keypoints_2d": []}]}"#);
    assert!(no_keypoints.contains("pose_keypoints_2d"), "{no_keypoints}");
    let not_a_pose = msg(r#"{"hello": 1}"#);
    assert!(not_a_pose.contains("people"), "{not_a_pose}");
    let not_object = msg("[1, 2, 3]");
    assert!(not_object.contains("JSON object"), "{not_object}");
    let bad_canvas =
        msg(&json!({"canvas_width": -3, "canvas_height": 10, "people": []}).to_string());
    assert!(bad_canvas.contains("canvas_width"), "{bad_canvas}");

    // File errors name the file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.json");
    std::fs::write(&path, "{not json").unwrap();
    let err = read_openpose(&path, 0).unwrap_err().to_string();
    assert!(
        err.contains("broken.json") && err.contains("invalid JSON"),
        "{err}"
    );
    let absent = dir.path().join("absent.json");
    let err = read_openpose(&absent, 0).unwrap_err().to_string();
    assert!(err.contains("absent.json"), "{err}");
}

#[test]
fn pose_fixture_json_reads_confident_joints() {
    // Always the shared folder: `$MARIONETTE_POSE_FIXTURES` names *extra* photos for the
    // detection tests, not a replacement for this one.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/pose/astronaut.json");
    let meta = read_json(&path);
    let doc = read_openpose_with_canvas(&path, 0).unwrap();
    assert_eq!(doc.canvas, Some((512, 512)));
    let entries = meta["openpose18"].as_array().unwrap();
    assert_eq!(entries.len(), NUM_JOINTS);
    let mut confident = 0;
    for (j, e) in entries.iter().enumerate() {
        // The fixture spells sides out (`right_shoulder`); we abbreviate (`r_shoulder`).
        let name = e["name"].as_str().unwrap();
        let name = name.replace("right_", "r_").replace("left_", "l_");
        assert_eq!(name, JOINT_NAMES[j], "fixture uses COCO-18 order");
        if e["confident"].as_bool().unwrap() {
            confident += 1;
            let p = doc
                .pose
                .get(j)
                .unwrap_or_else(|| panic!("joint {j} should be present"));
            assert_eq!(p.x, e["x_px"].as_f64().unwrap() as f32);
            assert_eq!(p.y, e["y_px"].as_f64().unwrap() as f32);
            assert_eq!(p.confidence, e["visibility"].as_f64().unwrap() as f32);
        } else {
            assert_eq!(doc.pose.get(j), None, "joint {j} is not confident");
        }
    }
    assert_eq!(doc.pose.num_present(), confident);
    assert!(confident > 0);
    assert!(
        read_openpose(&path, 1).is_err(),
        "the fixture holds one person"
    );
}

// ---------------------------------------------------------------------------------------------
// Annotation CSV

#[test]
fn annotation_rows_round_trip() {
    let mut pose = Pose::missing();
    for j in (0..NUM_JOINTS).filter(|j| j % 4 != 1) {
        pose.set(
            j,
            Some(Joint::new(
                3.0 * j as f32 + 1.0,
                250.0 - 5.0 * j as f32,
                1.0,
            )),
        );
    }
    let row = format_annotation_row("fashionWOMENDressesid0000262902_3back.jpg", &pose);
    let (name, back) = parse_annotation_row(&row).unwrap();
    assert_eq!(name, "fashionWOMENDressesid0000262902_3back.jpg");
    assert_eq!(back, pose);

    // Non-integer coordinates are rounded; confidence becomes 1.0.
    let mut fractional = Pose::missing();
    fractional.set(2, Some(Joint::new(10.6, 20.4, 0.3)));
    let (_, rounded) = parse_annotation_row(&format_annotation_row("a.jpg", &fractional)).unwrap();
    assert_eq!(rounded.get(2), Some(Joint::new(11.0, 20.0, 1.0)));
    assert_eq!(rounded.num_present(), 1);
}

#[test]
fn annotation_row_with_missing_joints() {
    let row =
        "img.jpg:[15, 47, 46, -1, 150, 48, 95, 136, 135, 203, -1, 135, 202, -1, 12, 12, 15, -1]:\
               [90, 88, 60, -1, 52, 116, 123, 130, 71, 70, -1, 106, 110, -1, 85, 95, 77, 104]\r";
    let (name, pose) = parse_annotation_row(row).unwrap();
    assert_eq!(name, "img.jpg");
    // Columns are (y, x): joint 0 is at x = 90, y = 15.
    assert_eq!(pose.get(0), Some(Joint::new(90.0, 15.0, 1.0)));
    assert_eq!(pose.get(4), Some(Joint::new(52.0, 150.0, 1.0)));
    for j in [3, 10, 13] {
        assert_eq!(pose.get(j), None, "joint {j}");
    }
    // y missing but x present still means missing (the reference tests either).
    assert_eq!(pose.get(17), None);
    assert_eq!(pose.num_present(), 14);
    // Formatting writes −1 for both coordinates of every missing joint.
    let expected = row.trim().replace(", 104]", ", -1]");
    assert_eq!(format_annotation_row(&name, &pose), expected);
}

#[test]
fn annotation_csv_files_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("market-annotation-test.csv");
    // What the file can hold: integer pixels, confidence 1.0.
    let mut expected = Pose::missing();
    for (j, p) in sample_pose().present() {
        expected.set(j, Some(Joint::new(p.x.round(), p.y.round(), 1.0)));
    }
    let text = format!(
        "name:keypoints_y:keypoints_x\n{}\n\n{}\n",
        format_annotation_row("a.jpg", &expected),
        format_annotation_row("b.jpg", &Pose::missing())
    );
    std::fs::write(&path, text).unwrap();
    let rows = read_annotation_csv(&path).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0], ("a.jpg".to_string(), expected));
    assert_eq!(rows[1], ("b.jpg".to_string(), Pose::missing()));

    std::fs::write(&path, "name:keypoints_y:keypoints_x\nc.jpg:[1, 2]:[3, 4]\n").unwrap();
    let err = read_annotation_csv(&path).unwrap_err().to_string();
    assert!(
        err.contains("market-annotation-test.csv")
            && err.contains("line 2")
            && err.contains("2 values"),
        "{err}"
    );
    let err = parse_annotation_row("just-a-name").unwrap_err().to_string();
    assert!(err.contains("3 fields"), "{err}");
    let ys = json!(vec![0; NUM_JOINTS]);
    let xs = format!("[1, 2, \"a\"{}]", ", 0".repeat(NUM_JOINTS - 3));
    let err = parse_annotation_row(&format!("x:{ys}:{xs}"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("keypoints_x[2]"), "{err}");
}
