//! Works out once whether this build can take tokio task dumps, so the code can say
//! `#[cfg(taskdump)]` instead of repeating tokio's own condition everywhere.
//!
//! tokio only has `Handle::dump` with `--cfg tokio_unstable`, its `taskdump` feature
//! (which `Cargo.toml` turns on for Linux) and one of these targets.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(taskdump)");
    let unstable = std::env::var_os("CARGO_CFG_TOKIO_UNSTABLE").is_some();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let arch_ok = matches!(arch.as_str(), "x86" | "x86_64" | "aarch64" | "s390x");
    if unstable && os == "linux" && arch_ok {
        println!("cargo::rustc-cfg=taskdump");
    }
}
