//! Compiles the protos with protox (pure Rust, so no system `protoc`) and
//! writes the descriptor set with every custom option kept (`google.api.http`
//! must survive for the gateway and for reflection).

use std::{env, fs, path::PathBuf};

const PROTOS: &[&str] = &[
    "fedimpute/registry/v1/registry.proto",
    "fedimpute/users/v1/users.proto",
    "fedimpute/jobs/v1/jobs.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let out = PathBuf::from(env::var("OUT_DIR")?);

    let mut compiler = protox::Compiler::new([&root])?;
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(PROTOS)?;
    // Encoded by protox itself: re-encoding the prost types would drop the
    // unknown (custom) options.
    fs::write(
        out.join("fedimpute_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(compiler.file_descriptor_set())?;

    // tonic-prost-build does not emit these itself (grpc/grpc-rust#2511).
    println!("cargo:rerun-if-changed=build.rs");
    for dir in ["fedimpute", "google"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    Ok(())
}
