//! Fuzz target `safetensors`: see [`marionette_fuzz::safetensors`].
fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = marionette_fuzz::safetensors(data);
    });
}
