//! `fedimpute`: runs any component of the platform, or all of them.

fn main() -> std::process::ExitCode {
    fedimpute::main()
}
