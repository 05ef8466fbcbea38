//! The `fedimpute` binary under another name, built inside the tests
//! package (whose tests see only its own binaries) so that the
//! end-to-end tests can run it as a process (SIGTERM handling).

fn main() -> std::process::ExitCode {
    fedimpute::main()
}
