//! `check TARGET FILE...`: runs a target's reader on files (outside AFL) and prints what it
//! said, one line per file; a panic shows as usual. For seed checks and triage of findings.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((name, files)) = args.split_first() else {
        eprintln!("usage: check TARGET FILE...");
        std::process::exit(2);
    };
    let Some((_, run)) = marionette_fuzz::TARGETS.iter().find(|(n, _)| n == name) else {
        eprintln!("unknown target {name}");
        std::process::exit(2);
    };
    for file in files {
        let data = std::fs::read(file).unwrap_or_else(|e| panic!("{file}: {e}"));
        match run(&data) {
            Ok(what) => println!("{file}: ok: {what}"),
            Err(e) => println!("{file}: err: {e}"),
        }
    }
}
