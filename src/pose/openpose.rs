//! OpenPose JSON pose files, plus the project's own pose-fixture JSON.
//!
//! **OpenPose** (`--write_json` output, also what most pose editors exchange):
//!
//! ```json
//! {"version": 1.3,
//!  "people": [{"pose_keypoints_2d": [x0, y0, c0, x1, y1, c1, ...]}],
//!  "canvas_width": 512, "canvas_height": 512}
//! ```
//!
//! * 18 triplets are COCO-18 (our order); 25 triplets are BODY_25, mapped to COCO-18 by
//!   dropping MidHip (8) and the six foot points (19–24).
//! * A joint is missing when its confidence is ≤ 0 (OpenPose writes `0, 0, 0`), when either
//!   coordinate is exactly −1, or when a value is not finite.
//! * Coordinates are pixels — unless the canvas size is given **and** every present
//!   coordinate lies in [0, 1]: then the file is taken to hold normalised coordinates (as some
//!   web editors write) and x is multiplied by `canvas_width`, y by `canvas_height`. A real
//!   pixel pose never fits inside a 1×1 pixel square, so the rule cannot misfire in practice.
//! * Other keys (face, hands, 3-D, `person_id`) are ignored.
//!
//! **Pose fixture** (`shared/fixtures/pose/*.json`, made with MediaPipe): a top-level
//! `openpose18` list of 18 objects in COCO order with `x_px`, `y_px` (pixels), `confident`
//! (bool; `false` → missing) and `visibility` (used as the confidence), plus the image `width`
//! and `height` (used as the canvas). It holds one person, index 0.

use std::path::Path;

use serde_json::{json, Map, Value};

use super::{Joint, Pose, PoseError, NUM_JOINTS};

/// The OpenPose JSON format version we write.
pub const OPENPOSE_VERSION: f64 = 1.3;

/// For each COCO-18 joint, its index in OpenPose's BODY_25 model. BODY_25 = COCO-18 with
/// MidHip inserted at 8 and six foot points appended; the joint meanings are otherwise equal.
pub const BODY25_FOR_COCO18: [usize; NUM_JOINTS] = [
    0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
];

/// A pose read from a file, with what else the file says about it.
#[derive(Clone, Debug, PartialEq)]
pub struct PoseDocument {
    /// The chosen person's pose, in pixels.
    pub pose: Pose,
    /// `(width, height)` of the picture the pose belongs to, if the file says.
    pub canvas: Option<(u32, u32)>,
    /// How many people the file lists.
    pub num_people: usize,
}

/// Reads `canvas_width`/`canvas_height` (or the fixture's `width`/`height`); `None` unless
/// both are present. They must be positive integers.
fn read_canvas(
    obj: &Map<String, Value>,
    wkey: &str,
    hkey: &str,
) -> Result<Option<(u32, u32)>, PoseError> {
    let dim = |key: &str| -> Result<Option<u32>, PoseError> {
        let Some(v) = obj.get(key) else {
            return Ok(None);
        };
        // Accept 512 and 512.0 alike; reject fractions, negatives, zero and non-numbers.
        v.as_f64()
            .filter(|f| *f >= 1.0 && f.fract() == 0.0 && *f <= f64::from(u32::MAX))
            .map(|f| Some(f as u32))
            .ok_or_else(|| {
                PoseError::format(format!("`{key}` is {v}, expected a positive integer"))
            })
    };
    Ok(match (dim(wkey)?, dim(hkey)?) {
        (Some(w), Some(h)) => Some((w, h)),
        _ => None,
    })
}

/// One OpenPose triplet to a joint, applying the missing-joint rules of the module docs.
fn triplet_to_joint(x: f64, y: f64, c: f64) -> Option<Joint> {
    let finite = x.is_finite() && y.is_finite() && c.is_finite();
    (finite && c > 0.0 && x != -1.0 && y != -1.0).then(|| Joint::new(x as f32, y as f32, c as f32))
}

/// Parses an OpenPose document (`people` array).
fn parse_people(
    obj: &Map<String, Value>,
    people: &Value,
    person: usize,
) -> Result<PoseDocument, PoseError> {
    let people = people.as_array().ok_or_else(|| {
        PoseError::format(format!("`people` is {}, expected an array", kind(people)))
    })?;
    let canvas = read_canvas(obj, "canvas_width", "canvas_height")?;
    let entry = people.get(person).ok_or(PoseError::NoPerson {
        requested: person,
        available: people.len(),
    })?;
    let keypoints = entry
        .get("pose_keypoints_2d")
        .ok_or_else(|| PoseError::format(format!("person {person} has no `pose_keypoints_2d`")))?;
    let values = keypoints.as_array().ok_or_else(|| {
        PoseError::format(format!(
            "person {person}: `pose_keypoints_2d` is {}, expected an array of numbers",
            kind(keypoints)
        ))
    })?;
    let numbers = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_f64().ok_or_else(|| {
                PoseError::format(format!(
                    "person {person}: pose_keypoints_2d[{i}] is {v}, expected a number"
                ))
            })
        })
        .collect::<Result<Vec<f64>, _>>()?;

    // Which triplet feeds each COCO-18 joint.
    let source: [usize; NUM_JOINTS] = match numbers.len() {
        n if n == 3 * NUM_JOINTS => std::array::from_fn(|j| j),
        75 => BODY25_FOR_COCO18,
        n => {
            return Err(PoseError::format(format!(
                "person {person}: pose_keypoints_2d has {n} numbers; expected 54 (18 x,y,c \
                 triplets, COCO-18) or 75 (25 triplets, BODY_25)"
            )))
        }
    };
    let mut pose = Pose::missing();
    for (j, &k) in source.iter().enumerate() {
        let t = &numbers[3 * k..3 * k + 3];
        pose.set(j, triplet_to_joint(t[0], t[1], t[2]));
    }

    if let Some((w, h)) = canvas {
        let normalised = pose.num_present() > 0
            && pose
                .present()
                .all(|(_, p)| (0.0..=1.0).contains(&p.x) && (0.0..=1.0).contains(&p.y));
        if normalised {
            pose = pose.scaled(w as f32, h as f32);
        }
    }
    Ok(PoseDocument {
        pose,
        canvas,
        num_people: people.len(),
    })
}

/// Parses the project's pose-fixture format (`openpose18` list).
fn parse_fixture(
    obj: &Map<String, Value>,
    list: &Value,
    person: usize,
) -> Result<PoseDocument, PoseError> {
    let canvas = read_canvas(obj, "width", "height")?;
    // `pose_found: false` files describe a picture without a person.
    let found = obj
        .get("pose_found")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let num_people = usize::from(found);
    if person >= num_people {
        return Err(PoseError::NoPerson {
            requested: person,
            available: num_people,
        });
    }
    let entries = list.as_array().ok_or_else(|| {
        PoseError::format(format!("`openpose18` is {}, expected an array", kind(list)))
    })?;
    if entries.len() != NUM_JOINTS {
        return Err(PoseError::format(format!(
            "`openpose18` has {} entries, expected {NUM_JOINTS}",
            entries.len()
        )));
    }
    let mut pose = Pose::missing();
    for (j, e) in entries.iter().enumerate() {
        let field = |key: &str| e.get(key).filter(|v| !v.is_null());
        let number = |key: &str| -> Result<f64, PoseError> {
            field(key).and_then(Value::as_f64).ok_or_else(|| {
                PoseError::format(format!(
                    "openpose18[{j}]: `{key}` is missing or not a number"
                ))
            })
        };
        let confident = field("confident").and_then(Value::as_bool).ok_or_else(|| {
            PoseError::format(format!(
                "openpose18[{j}]: `confident` is missing or not a boolean"
            ))
        })?;
        if !confident {
            continue;
        }
        let confidence = match field("visibility") {
            Some(_) => number("visibility")?,
            None => 1.0,
        };
        pose.set(
            j,
            Some(Joint::new(
                number("x_px")? as f32,
                number("y_px")? as f32,
                confidence as f32,
            )),
        );
    }
    Ok(PoseDocument {
        pose,
        canvas,
        num_people,
    })
}

/// "an object", "a string", … for error messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Interprets an already-parsed JSON document (OpenPose or pose fixture), taking person
/// `person` (0 = the first).
pub fn parse_openpose_value(value: &Value, person: usize) -> Result<PoseDocument, PoseError> {
    let obj = value.as_object().ok_or_else(|| {
        PoseError::format(format!(
            "the pose file is {}, expected a JSON object",
            kind(value)
        ))
    })?;
    if let Some(people) = obj.get("people") {
        parse_people(obj, people, person)
    } else if let Some(list) = obj.get("openpose18") {
        parse_fixture(obj, list, person)
    } else {
        Err(PoseError::format(
            "no `people` array (OpenPose JSON) or `openpose18` list (pose fixture) in the file",
        ))
    }
}

/// Parses OpenPose (or pose-fixture) JSON text, taking person `person`.
pub fn parse_openpose(text: &str, person: usize) -> Result<PoseDocument, PoseError> {
    let value: Value = serde_json::from_str(text).map_err(PoseError::Json)?;
    parse_openpose_value(&value, person)
}

/// Reads a pose file with its canvas size; errors carry the path.
pub fn read_openpose_with_canvas(
    path: impl AsRef<Path>,
    person: usize,
) -> Result<PoseDocument, PoseError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|error| PoseError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    parse_openpose(&text, person).map_err(|e| e.in_file(path))
}

/// Reads person `person` of an OpenPose (or pose-fixture) JSON file.
pub fn read_openpose(path: impl AsRef<Path>, person: usize) -> Result<Pose, PoseError> {
    read_openpose_with_canvas(path, person).map(|doc| doc.pose)
}

/// An f32 as the JSON number with the shortest decimal form that reads back as the same f32
/// (so files say `222.735`, not `222.73500061035156`).
fn short_number(v: f32) -> Value {
    let shortest = v.to_string().parse::<f64>().unwrap_or(f64::from(v));
    json!(shortest)
}

/// The 54 numbers of `pose_keypoints_2d`. Missing joints, and joints with non-finite
/// coordinates (JSON cannot hold them), are `0, 0, 0`. A present joint whose confidence is
/// not positive is written with confidence 1.0 so that it reads back as present.
fn keypoint_values(pose: &Pose) -> Vec<Value> {
    let mut values = Vec::with_capacity(3 * NUM_JOINTS);
    for joint in &pose.joints {
        match joint.filter(|p| p.x.is_finite() && p.y.is_finite()) {
            Some(p) => {
                let c = if p.confidence > 0.0 && p.confidence.is_finite() {
                    p.confidence
                } else {
                    1.0
                };
                values.extend([short_number(p.x), short_number(p.y), short_number(c)]);
            }
            None => values.extend([json!(0), json!(0), json!(0)]),
        }
    }
    values
}

/// `pose` as an OpenPose 1.3 JSON document with one person and 18 pixel-coordinate triplets
/// (COCO-18), plus `canvas_width`/`canvas_height` when `canvas` = `(width, height)` is given.
pub fn to_openpose_json(pose: &Pose, canvas: Option<(u32, u32)>) -> Value {
    let mut doc = json!({
        "version": OPENPOSE_VERSION,
        "people": [{ "pose_keypoints_2d": keypoint_values(pose) }],
    });
    if let (Some((w, h)), Some(obj)) = (canvas, doc.as_object_mut()) {
        obj.insert("canvas_width".into(), json!(w));
        obj.insert("canvas_height".into(), json!(h));
    }
    doc
}

/// The text `write_openpose` writes: the same document as [`to_openpose_json`], laid out
/// for people — one `x, y, c` triplet per line, so files can be read and edited by hand.
fn openpose_text(pose: &Pose, canvas: Option<(u32, u32)>) -> String {
    let values = keypoint_values(pose);
    let triplets: Vec<String> = values
        .chunks(3)
        .map(|t| format!("        {}, {}, {}", t[0], t[1], t[2]))
        .collect();
    let mut text = format!("{{\n  \"version\": {},\n", json!(OPENPOSE_VERSION));
    if let Some((w, h)) = canvas {
        text += &format!("  \"canvas_width\": {w},\n  \"canvas_height\": {h},\n");
    }
    text += "  \"people\": [\n    {\n      \"pose_keypoints_2d\": [\n";
    text += &triplets.join(",\n");
    text += "\n      ]\n    }\n  ]\n}\n";
    text
}

/// Writes `pose` as an OpenPose JSON file (see [`to_openpose_json`]). Atomic: the text goes
/// to `<path>.tmp` in the same directory, which is then renamed over `path`, so readers never
/// see a half-written file.
pub fn write_openpose(
    path: impl AsRef<Path>,
    pose: &Pose,
    canvas: Option<(u32, u32)>,
) -> Result<(), PoseError> {
    let path = path.as_ref();
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, openpose_text(pose, canvas)).map_err(|error| PoseError::Io {
        path: tmp.clone(),
        error,
    })?;
    std::fs::rename(&tmp, path).map_err(|error| {
        // Best effort: do not leave the temporary file behind.
        let _ = std::fs::remove_file(&tmp);
        PoseError::Io {
            path: path.to_path_buf(),
            error,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_text_is_the_json_document() {
        let mut pose = Pose::missing();
        pose.set(3, Some(Joint::new(12.5, 40.25, 0.75)));
        pose.set(7, Some(Joint::new(f32::NAN, 1.0, 0.5)));
        for canvas in [None, Some((176, 256))] {
            let parsed: Value = serde_json::from_str(&openpose_text(&pose, canvas)).unwrap();
            assert_eq!(parsed, to_openpose_json(&pose, canvas));
        }
    }
}
