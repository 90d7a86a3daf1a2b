//! Fuzz target `image`: see [`marionette_fuzz::image`].
fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = marionette_fuzz::image(data);
    });
}
