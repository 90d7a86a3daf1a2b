//! Fuzz target `project`: see [`marionette_fuzz::project`].
fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = marionette_fuzz::project(data);
    });
}
