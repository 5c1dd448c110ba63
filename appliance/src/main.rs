//! The `levee` binary; everything lives in the library (see `levee::app`).

fn main() -> std::process::ExitCode {
    levee::app::main()
}
