//! The `marionette` binary: a thin shell over [`marionette::cli`].
fn main() -> std::process::ExitCode {
    marionette::cli::main()
}
