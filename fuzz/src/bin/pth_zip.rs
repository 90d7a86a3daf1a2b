//! Fuzz target `pth_zip`: see [`marionette_fuzz::pth`] (seeds: fuzz/corpus/pth_zip).
fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = marionette_fuzz::pth(data);
    });
}
