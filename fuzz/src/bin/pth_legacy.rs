//! Fuzz target `pth_legacy`: see [`marionette_fuzz::pth`] (seeds: fuzz/corpus/pth_legacy).
fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = marionette_fuzz::pth(data);
    });
}
