//! Fuzz target `motion`: see [`marionette_fuzz::motion`].
fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = marionette_fuzz::motion(data);
    });
}
