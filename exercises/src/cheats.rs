//! The catalogue of known cheats, and the proof that each is rejected.
//!
//! Learners take the shortest path to green. A *cheat* is a change to an exercise that
//! makes its leak go away without keeping what the code promises: answering `/_count`
//! with a literal, moving blocked work into an OS thread, deleting the feature that
//! leaked, bounding a wait so it ends inside the settle window... `exercises/cheats.toml`
//! lists them, each as edits to the exercise's starting code (or a whole file). `verify`
//! applies every cheat to a scratch copy of its exercise and runs the exercise's check:
//! a cheat the check accepts is a hole in the exercise's test.
//!
//! The scratch copies live in one scratch workspace (`<target>/cheats/`), a member per
//! cheat, with the real workspace's dependencies, lockfile and profiles: one build for
//! all of them, then one test run each.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{Cargo, Exercise, Manifest, Mode, Outcome};

/// `exercises/cheats.toml`.
#[derive(Debug, Clone, Deserialize)]
pub struct Catalogue {
    /// Every known cheat.
    pub cheats: Vec<Cheat>,
}

/// One cheat: edits to one exercise.
#[derive(Debug, Clone, Deserialize)]
pub struct Cheat {
    /// The exercise's number.
    pub exercise: u32,
    /// What the cheat does, in a few words.
    pub name: String,
    /// What it breaks (so what the exercise's test must check).
    pub breaks: String,
    /// The changes, applied in order.
    pub edits: Vec<Edit>,
}

/// One change to one file of the exercise crate.
#[derive(Debug, Clone, Deserialize)]
pub struct Edit {
    /// Relative to the exercise's folder (`src/lib.rs`, `tests/leak.rs`).
    pub file: String,
    /// Text that must occur exactly once, replaced by `replace`...
    #[serde(default)]
    pub find: Option<String>,
    /// ... with this.
    #[serde(default)]
    pub replace: Option<String>,
    /// Or: the file's whole new content.
    #[serde(default)]
    pub content: Option<String>,
}

/// What happened to one cheat.
#[derive(Debug, Clone)]
pub struct CheatVerdict {
    /// The cheat.
    pub cheat: Cheat,
    /// The exercise's check passed with the cheat in: a hole.
    pub accepted: bool,
    /// What the check said.
    pub detail: String,
}

impl Catalogue {
    /// Reads a catalogue file.
    pub fn load(path: &Path) -> Result<Catalogue, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{} is not valid: {e}", path.display()))
    }
}

/// Applies `edits` to the file contents in `dir`.
fn apply(dir: &Path, edits: &[Edit]) -> Result<(), String> {
    for edit in edits {
        let path = dir.join(&edit.file);
        let new = match (&edit.content, &edit.find, &edit.replace) {
            (Some(content), None, None) => content.clone(),
            (None, Some(find), Some(replace)) => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                match text.matches(find.as_str()).count() {
                    1 => text.replacen(find.as_str(), replace, 1),
                    n => {
                        return Err(format!(
                            "{}: the text to replace occurs {n} times, not once (the catalogue is out of date): {find:?}",
                            edit.file
                        ));
                    }
                }
            }
            _ => {
                return Err(format!(
                    "{}: an edit has either `content`, or `find` and `replace`",
                    edit.file
                ));
            }
        };
        std::fs::write(&path, new).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Copies the files of `from` (not `target/`) into `to`.
fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    let entries =
        std::fs::read_dir(from).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
    for entry in entries.flatten() {
        let (source, name) = (entry.path(), entry.file_name());
        if name == "target" {
            continue;
        }
        let dest = to.join(&name);
        if source.is_dir() {
            copy_dir(&source, &dest)?;
        } else {
            std::fs::copy(&source, &dest)
                .map_err(|e| format!("cannot copy {}: {e}", source.display()))?;
        }
    }
    Ok(())
}

/// The scratch workspace's `Cargo.toml`: the real workspace's shared settings
/// (`[workspace.package]`, `[workspace.dependencies]` with absolute paths, lints,
/// profiles), and one member per cheat.
fn scratch_manifest(root: &Path, members: &[String]) -> Result<String, String> {
    let path = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut real: toml::Table =
        toml::from_str(&text).map_err(|e| format!("{} is not valid: {e}", path.display()))?;
    let mut workspace = real
        .remove("workspace")
        .and_then(|w| w.as_table().cloned())
        .ok_or("the workspace's Cargo.toml has no [workspace]")?;
    if let Some(deps) = workspace
        .get_mut("dependencies")
        .and_then(|d| d.as_table_mut())
    {
        for (_, dep) in deps.iter_mut() {
            if let Some(path) = dep.get_mut("path") {
                let absolute = root.join(path.as_str().unwrap_or_default());
                *path = toml::Value::String(absolute.display().to_string());
            }
        }
    }
    workspace.insert(
        "members".into(),
        toml::Value::Array(members.iter().cloned().map(toml::Value::String).collect()),
    );
    workspace.remove("default-members");
    workspace.remove("exclude");
    let mut scratch = toml::Table::new();
    scratch.insert("workspace".into(), toml::Value::Table(workspace));
    if let Some(profile) = real.remove("profile") {
        scratch.insert("profile".into(), profile);
    }
    Ok(format!(
        "# Generated by `cargo run -p exercises -- verify`: one member per known cheat.\n{}",
        toml::to_string(&scratch).map_err(|e| e.to_string())?
    ))
}

/// The package name of a cheat's scratch crate: `cheat-02-1`.
fn package(cheat: &Cheat, index: usize) -> String {
    format!("cheat-{:02}-{}", cheat.exercise, index)
}

/// Applies every cheat of `catalogue` to a scratch copy of its exercise (under
/// `scratch`), and runs the exercise's check on each. The check must reject every one.
pub fn run(
    cargo: &Cargo,
    manifest: &Manifest,
    catalogue: &Catalogue,
    scratch: &Path,
) -> Result<Vec<CheatVerdict>, String> {
    let _ = std::fs::remove_dir_all(scratch);
    std::fs::create_dir_all(scratch)
        .map_err(|e| format!("cannot create {}: {e}", scratch.display()))?;
    let mut members = Vec::new();
    let mut prepared: Vec<(Cheat, Exercise, Result<(), String>)> = Vec::new();
    for cheat in &catalogue.cheats {
        let exercise = manifest.get(cheat.exercise)?.clone();
        let index = prepared
            .iter()
            .filter(|(c, _, _)| c.exercise == cheat.exercise)
            .count()
            + 1;
        let name = package(cheat, index);
        let dir = scratch.join(&name);
        copy_dir(&cargo.root.join("exercises").join(&exercise.dir), &dir)?;
        // The crate's own name, so it can sit beside the others.
        let manifest_path = dir.join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest_path).map_err(|e| e.to_string())?;
        let renamed = text.replacen(
            &format!("name = \"{}\"", exercise.package()),
            &format!("name = \"{name}\""),
            1,
        );
        std::fs::write(&manifest_path, renamed).map_err(|e| e.to_string())?;
        let applied = apply(&dir, &cheat.edits);
        let mut exercise = exercise;
        exercise.exercise_package = Some(name.clone());
        exercise.crate_dir = Some(dir.clone());
        members.push(name);
        prepared.push((cheat.clone(), exercise, applied));
    }
    std::fs::write(
        scratch.join("Cargo.toml"),
        scratch_manifest(&cargo.root, &members)?,
    )
    .map_err(|e| format!("cannot write the scratch workspace: {e}"))?;
    // The same versions as the real workspace, nothing to fetch.
    let _ = std::fs::copy(cargo.root.join("Cargo.lock"), scratch.join("Cargo.lock"));

    let scratch_cargo = Cargo {
        root: scratch.to_path_buf(),
        target_dir: Some(
            cargo
                .target_dir
                .clone()
                .unwrap_or_else(|| cargo.root.join("target"))
                .join("cheats-target"),
        ),
    };
    // One build for all (a cheat that does not compile is rejected, not an error here).
    let _ = scratch_cargo.build(&members);

    let mut verdicts = Vec::new();
    for (cheat, exercise, applied) in prepared {
        let (accepted, detail) = match applied {
            Err(why) => (false, format!("could not be applied: {why}")),
            Ok(()) => {
                let (solved, outcome, output) = crate::check(&scratch_cargo, &exercise);
                let compiles =
                    !matches!(&outcome, Outcome::Broken(why) if why.contains("does not compile"));
                let detail = match (solved, &outcome) {
                    // A cheat that does not compile proves nothing about the test.
                    _ if !compiles => "could not be applied: it does not compile".to_owned(),
                    (true, _) => "ACCEPTED: the exercise's check passes with it".to_owned(),
                    (false, Outcome::Leaked) => {
                        format!("rejected: the leak check fails ({})", first_panic(&output))
                    }
                    (false, Outcome::Broken(why)) => {
                        format!("rejected: {why} ({})", first_panic(&output))
                    }
                    (false, Outcome::Passed) => "rejected".to_owned(),
                };
                (solved, detail)
            }
        };
        verdicts.push(CheatVerdict {
            cheat,
            accepted,
            detail,
        });
    }
    Ok(verdicts)
}

/// The first line of the first panic message in a test run's output.
fn first_panic(output: &str) -> String {
    let mut lines = output.lines();
    while let Some(line) = lines.next() {
        if line.contains("panicked at") {
            let message = lines.next().unwrap_or_default().trim();
            return message.chars().take(140).collect();
        }
    }
    "no panic message".into()
}

/// `cheats: K rejected, J accepted` (a cheat that could not be applied counts as neither:
/// it is reported as a line of its own and makes `verify` fail).
pub fn summary(verdicts: &[CheatVerdict]) -> String {
    let accepted = verdicts.iter().filter(|v| v.accepted).count();
    let stale = verdicts
        .iter()
        .filter(|v| v.detail.starts_with("could not be applied"))
        .count();
    let rejected = verdicts.len() - accepted - stale;
    let mut line = format!("cheats: {rejected} rejected, {accepted} accepted");
    if stale > 0 {
        line += &format!(", {stale} could not be applied");
    }
    line
}

/// Whether every cheat applied and was rejected.
pub fn all_rejected(verdicts: &[CheatVerdict]) -> bool {
    verdicts
        .iter()
        .all(|v| !v.accepted && !v.detail.starts_with("could not be applied"))
}

/// Where `verify` puts the scratch workspace.
pub fn scratch_dir(cargo: &Cargo) -> PathBuf {
    cargo
        .target_dir
        .clone()
        .unwrap_or_else(|| cargo.root.join("target"))
        .join("cheats")
}

/// Cheats per exercise mode, for the catalogue's own sanity: every exercise has one.
pub fn exercises_without_cheats(manifest: &Manifest, catalogue: &Catalogue) -> Vec<u32> {
    manifest
        .exercises
        .iter()
        .map(Exercise::number)
        .filter(|n| !catalogue.cheats.iter().any(|c| c.exercise == *n))
        .collect()
}

/// A cheat on a write-the-test exercise edits the test; on the others, the code.
pub fn edits_the_right_files(manifest: &Manifest, cheat: &Cheat) -> bool {
    manifest.get(cheat.exercise).is_ok_and(|e| {
        cheat.edits.iter().all(|edit| match e.mode {
            Mode::WriteTheTest => edit.file.starts_with("tests/"),
            Mode::FixTheLeak => edit.file.starts_with("src/"),
        })
    })
}
