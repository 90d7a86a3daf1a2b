//! The fuzz targets: each function hands the input to one of marionette's readers, exactly as
//! the application reads a file of that kind once its bytes are in memory. An `Err` is a correct
//! answer; only a panic, an abort, a hang or a runaway allocation is a finding. The binaries in
//! src/bin/ wrap one function each in `afl::fuzz!`; `check` runs them on files and prints what
//! the reader said (seed checks, triage of findings).

use std::path::Path;

pub type Outcome = Result<String, String>;

fn err(e: impl std::fmt::Display) -> String {
    format!("{e:#}")
}

/// JSON readers take text: invalid UTF-8 is refused before them, as `read_to_string` does.
fn text(data: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(data).map_err(err)
}

/// OpenPose JSON (COCO-18, BODY_25, pixels or normalised, pose fixtures): `parse_openpose`, the
/// text path of `read_openpose`. The first person, then the last one when there are more.
pub fn pose_json(data: &[u8]) -> Outcome {
    let text = text(data)?;
    let doc = marionette::pose::parse_openpose(text, 0).map_err(err)?;
    if doc.num_people > 1 {
        marionette::pose::parse_openpose(text, doc.num_people - 1).map_err(err)?;
    }
    Ok(format!(
        "{} people, canvas {:?}",
        doc.num_people, doc.canvas
    ))
}

/// Editor projects: `Project::from_json`, the text path of `Project::load`.
pub fn project(data: &[u8]) -> Outcome {
    let path = Path::new("/fuzz/project.json");
    let p = marionette::app::project::Project::from_json(text(data)?, path).map_err(err)?;
    Ok(format!("{} keyframes", p.timeline.keyframes.len()))
}

/// Keyframe files (a timeline, or a project holding one): `Timeline::from_json`, the text path
/// of `Timeline::load`; a timeline that loads is sampled (first, middle, last frame) as the
/// exporter would.
pub fn keyframes(data: &[u8]) -> Outcome {
    let path = Path::new("/fuzz/keyframes.json");
    let timeline =
        marionette::animate::keyframes::Timeline::from_json(text(data)?, path).map_err(err)?;
    let n = timeline.frame_count(timeline.fps);
    for i in [0, n / 2, n.saturating_sub(1)] {
        let _ = timeline.frame(i, timeline.fps);
    }
    Ok(format!(
        "{} keyframes, {n} frames",
        timeline.keyframes.len()
    ))
}

/// A motion clip in one JSON file (`{"fps", "frames": [doc, ...]}` or `[doc, ...]`):
/// `motion_from_json`, the text path of `load_motion` on a file.
pub fn motion(data: &[u8]) -> Outcome {
    let path = Path::new("/fuzz/motion.json");
    let clip = marionette::animate::motion::motion_from_json(text(data)?, path).map_err(err)?;
    Ok(format!("{} frames", clip.frames.len()))
}

/// Checkpoints as `--weights` reads them: `load_state_dict_bytes` (format sniffing, candle's
/// safetensors reader or ours for .pth, the `module.` prefix).
pub fn safetensors(data: &[u8]) -> Outcome {
    let path = Path::new("/fuzz/weights");
    let (state, format) = marionette::weights::load_state_dict_bytes(data, path).map_err(err)?;
    Ok(format!("{format:?}, {} tensors", state.len()))
}

/// torch.save checkpoints, zip (torch >= 1.6) or legacy (pickles, then raw storages):
/// `load_pth_bytes`. The targets `pth_zip` and `pth_legacy` differ in their seeds.
pub fn pth(data: &[u8]) -> Outcome {
    let entries = marionette::weights::load_pth_bytes(data).map_err(err)?;
    Ok(format!("{} tensors", entries.len()))
}

/// Our pickle VM on its own, with the calls a state dict may make.
pub fn pickle(data: &[u8]) -> Outcome {
    const ALLOWED: &[&str] = &[
        "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_tensor_v3",
        "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state",
    ];
    let (unpickled, end) = marionette::weights::pickle::load(data, 0, ALLOWED).map_err(err)?;
    let objects = unpickled.objects().count();
    Ok(format!(
        "{} root, {objects} objects, {end} bytes",
        unpickled.type_name(unpickled.root())
    ))
}

/// TFLite models: the flatbuffer reader and schema (`schema::parse`) and the graph builder
/// (`Interpreter::from_bytes`: every op, shape and constant checked). A model that builds is
/// not run: its tensors may be any size the file declares.
pub fn tflite(data: &[u8]) -> Outcome {
    let m = marionette::detect::tflite::Interpreter::from_bytes(data).map_err(err)?;
    Ok(format!("{} steps", m.num_steps()))
}

/// Photos (PNG, JPEG) through our loading path: `decode_photo`, the in-memory half of
/// `open_photo` (format sniffing, the size limit from the header, decode, RGB).
pub fn image(data: &[u8]) -> Outcome {
    let img = marionette::imaging::decode_photo(data, Path::new("/fuzz/photo")).map_err(err)?;
    Ok(format!("{}x{}", img.width(), img.height()))
}

/// Every target by name.
pub const TARGETS: &[(&str, fn(&[u8]) -> Outcome)] = &[
    ("pose_json", pose_json),
    ("project", project),
    ("keyframes", keyframes),
    ("motion", motion),
    ("safetensors", safetensors),
    ("pth_zip", pth),
    ("pth_legacy", pth),
    ("pickle", pickle),
    ("tflite", tflite),
    ("image", image),
];
