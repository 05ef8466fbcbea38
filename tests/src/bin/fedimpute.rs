//! The `fedimpute` binary, built inside the tests package so that the
//! end-to-end tests can run it as a process (SIGTERM handling).

fn main() -> std::process::ExitCode {
    fedimpute::main()
}
