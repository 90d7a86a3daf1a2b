//! Fuzz target `pose_json`: see [`marionette_fuzz::pose_json`].
fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = marionette_fuzz::pose_json(data);
    });
}
