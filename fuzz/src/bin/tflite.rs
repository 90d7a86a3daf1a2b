//! Fuzz target `tflite`: see [`marionette_fuzz::tflite`].
fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = marionette_fuzz::tflite(data);
    });
}
