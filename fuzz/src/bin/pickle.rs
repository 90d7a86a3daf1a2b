//! Fuzz target `pickle`: see [`marionette_fuzz::pickle`].
fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = marionette_fuzz::pickle(data);
    });
}
