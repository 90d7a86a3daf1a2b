//! Fuzz target `keyframes`: see [`marionette_fuzz::keyframes`].
fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = marionette_fuzz::keyframes(data);
    });
}
