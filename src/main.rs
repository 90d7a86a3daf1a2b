//! The `marionette` binary: a thin shell over [`marionette::cli`].
fn main() -> std::process::ExitCode {
    marionette::ops::alloc::keep_freed_buffers();
    marionette::ops::cpu_mode::init_global_pool();
    marionette::cli::main()
}
