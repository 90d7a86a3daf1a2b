//! GFLA/PATN annotation CSV rows (spec §8.2):
//!
//! ```text
//! name:keypoints_y:keypoints_x
//! fashionWOMENBlouses_Shirtsid0000637003_1front.jpg:[25, 54, 55, -1, ...]:[88, 89, 65, -1, ...]
//! ```
//!
//! Separator `:`, each coordinate column a JSON list of 18 integers, **y before x**, −1 =
//! missing. Coordinates are pixels of the annotation frame (256×176 for DeepFashion, 128×64
//! for Market).

use std::path::Path;

use serde_json::Value;

use super::{Joint, Pose, PoseError, NUM_JOINTS};

/// The value the annotation files use for a missing coordinate.
pub const MISSING: i64 = -1;

/// The header line of the annotation files.
pub const ANNOTATION_HEADER: &str = "name:keypoints_y:keypoints_x";

/// Builds a pose from (y, x) annotation coordinates; a joint is missing when either of its
/// coordinates is −1 (the reference tests `y == -1 or x == -1`). Confidence of present joints
/// is 1.0.
pub fn pose_from_yx(ys: &[f64; NUM_JOINTS], xs: &[f64; NUM_JOINTS]) -> Pose {
    let mut pose = Pose::missing();
    for (j, (&y, &x)) in ys.iter().zip(xs).enumerate() {
        if y != MISSING as f64 && x != MISSING as f64 {
            pose.set(j, Some(Joint::new(x as f32, y as f32, 1.0)));
        }
    }
    pose
}

/// Integer (y, x) annotation coordinates of `pose`, rounded to the nearest pixel (halves away
/// from zero); missing or non-finite joints are −1. Note that a present joint that rounds to
/// −1 in either coordinate reads back as missing — inherent to the format.
pub fn pose_to_yx(pose: &Pose) -> ([i64; NUM_JOINTS], [i64; NUM_JOINTS]) {
    let mut ys = [MISSING; NUM_JOINTS];
    let mut xs = [MISSING; NUM_JOINTS];
    for (j, p) in pose.present() {
        if p.x.is_finite() && p.y.is_finite() {
            ys[j] = p.y.round() as i64;
            xs[j] = p.x.round() as i64;
        }
    }
    (ys, xs)
}

/// Parses one column: a JSON list of exactly 18 finite numbers.
fn parse_coordinate_list(text: &str, column: &str) -> Result<[f64; NUM_JOINTS], PoseError> {
    let value: Value = serde_json::from_str(text.trim()).map_err(|e| {
        PoseError::format(format!(
            "column {column} is not a JSON list ({e}): {text:?}"
        ))
    })?;
    let items = value.as_array().ok_or_else(|| {
        PoseError::format(format!("column {column} is not a JSON list: {text:?}"))
    })?;
    if items.len() != NUM_JOINTS {
        return Err(PoseError::format(format!(
            "column {column} has {} values, expected {NUM_JOINTS}",
            items.len()
        )));
    }
    let mut out = [0.0; NUM_JOINTS];
    for (i, (slot, item)) in out.iter_mut().zip(items).enumerate() {
        *slot = item.as_f64().filter(|v| v.is_finite()).ok_or_else(|| {
            PoseError::format(format!("column {column}[{i}] is {item}, expected a number"))
        })?;
    }
    Ok(out)
}

/// Parses a data row `name:[y0, …, y17]:[x0, …, x17]` into the image name and its pose
/// (confidence 1.0, −1 = missing). The name may itself contain `:`; the last two fields are
/// the coordinate lists. Surrounding whitespace (and a CR) is ignored.
pub fn parse_annotation_row(line: &str) -> Result<(String, Pose), PoseError> {
    let line = line.trim();
    let mut fields = line.rsplitn(3, ':');
    let (Some(xs), Some(ys), Some(name)) = (fields.next(), fields.next(), fields.next()) else {
        return Err(PoseError::format(format!(
            "expected 3 fields `name:keypoints_y:keypoints_x` separated by ':', got {line:?}"
        )));
    };
    let ys = parse_coordinate_list(ys, "keypoints_y")?;
    let xs = parse_coordinate_list(xs, "keypoints_x")?;
    Ok((name.to_string(), pose_from_yx(&ys, &xs)))
}

/// Formats `pose` as a data row (no newline), coordinates rounded to integers, −1 = missing,
/// lists written like Python's `str(list)` as in the original files.
pub fn format_annotation_row(name: &str, pose: &Pose) -> String {
    let (ys, xs) = pose_to_yx(pose);
    let list = |v: &[i64]| {
        let items: Vec<String> = v.iter().map(i64::to_string).collect();
        format!("[{}]", items.join(", "))
    };
    format!("{name}:{}:{}", list(&ys), list(&xs))
}

/// Reads a whole annotation CSV: skips the header (a first line whose name field is `name`)
/// and blank lines; errors name the file and the 1-based line.
pub fn read_annotation_csv(path: impl AsRef<Path>) -> Result<Vec<(String, Pose)>, PoseError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|error| PoseError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        // A UTF-8 byte-order mark would otherwise hide the header.
        let trimmed = line.trim().trim_start_matches('\u{feff}');
        let is_header = i == 0 && trimmed.split(':').next() == Some("name");
        if trimmed.is_empty() || is_header {
            continue;
        }
        let row = parse_annotation_row(trimmed).map_err(|e| {
            PoseError::AtLine {
                line: i + 1,
                error: Box::new(e),
            }
            .in_file(path)
        })?;
        rows.push(row);
    }
    Ok(rows)
}
