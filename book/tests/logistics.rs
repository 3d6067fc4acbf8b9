//! What the README and the workshop guide promise about the workspace itself: the Rust
//! version it needs, and the workshop's timings.

use std::path::PathBuf;
use std::process::Command;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `1.88` → `[1, 88, 0]`, so that `1.88` and `1.88.0` compare equal.
fn version(v: &str) -> [u32; 3] {
    let mut parts = v.split('.').map(|p| p.parse().unwrap_or(0));
    [(); 3].map(|()| parts.next().unwrap_or(0))
}

/// The workspace's `rust-version` is at least the highest `rust-version` of every locked
/// dependency (`cargo metadata`): a learner with that toolchain can build everything.
#[test]
fn the_declared_rust_version_builds_the_locked_dependencies() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline", "--locked"])
        .current_dir(workspace())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = metadata["packages"].as_array().unwrap();
    let (needed, by) = packages
        .iter()
        .filter_map(|p| Some((p["rust_version"].as_str()?, p["name"].as_str()?)))
        .max_by_key(|(v, _)| version(v))
        .unwrap();
    let manifest = std::fs::read_to_string(workspace().join("Cargo.toml")).unwrap();
    let declared = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .map(|v| v.trim_matches('"').to_owned())
        .expect("the workspace declares a rust-version");
    assert!(
        version(&declared) >= version(needed),
        "the workspace says rust-version {declared}, but {by} needs {needed}"
    );
    let guide = std::fs::read_to_string(workspace().join("exercises/README.md")).unwrap();
    assert!(
        guide.contains(&format!("Rust {declared} or later")),
        "the workshop guide names the same Rust version ({declared})"
    );
}

/// The workshop guide's total of minutes is the sum of `exercises/info.toml`'s.
#[test]
fn the_workshop_timings_add_up() {
    let info = std::fs::read_to_string(workspace().join("exercises/info.toml")).unwrap();
    let total: u32 = info
        .lines()
        .filter_map(|l| l.strip_prefix("minutes = "))
        .map(|m| m.trim().parse::<u32>().unwrap())
        .sum();
    let guide = std::fs::read_to_string(workspace().join("exercises/README.md")).unwrap();
    assert!(
        guide.contains(&format!("add up to {total} minutes")),
        "exercises/README.md states the sum of info.toml's minutes ({total})"
    );
}
