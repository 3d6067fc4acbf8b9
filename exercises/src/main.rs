//! `cargo run -p exercises -- <command>`: the workshop's checker.
//!
//! ```text
//! list       every exercise, ✓ solved / ✗ not yet, in teaching order
//! check N    run exercise N's leak test and show its report
//! hint N     where to look for help on exercise N
//! verify     (maintainers, CI) every exercise fails because of its leak, every solution passes
//! ```

use std::path::Path;
use std::process::ExitCode;

use exercises::{Cargo, Manifest, Outcome, check, summary, verify};

const USAGE: &str = "usage: cargo run -p exercises -- <list | check N | hint N | verify>";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let manifest_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("info.toml");
    let manifest = match Manifest::load(&manifest_path) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("exercises: {e}");
            return ExitCode::FAILURE;
        }
    };
    let cargo = Cargo::here();
    let number = |arg: Option<&String>| -> Result<u32, String> {
        let arg = arg.ok_or_else(|| format!("which exercise? {USAGE}"))?;
        arg.parse()
            .map_err(|_| format!("{arg:?} is not an exercise number; see `list`"))
    };
    let result = match args.first().map(String::as_str) {
        Some("list") if args.len() == 1 => list(&cargo, &manifest),
        Some("check") if args.len() <= 2 => number(args.get(1))
            .and_then(|n| manifest.get(n).cloned())
            .map(|e| {
                println!("exercise {}: {} ({})\n", e.number(), e.name, e.dir);
                let (solved, outcome, output) = check(&cargo, &e);
                println!("{output}");
                if solved {
                    println!("✓ exercise {} is solved: {outcome}", e.number());
                    0
                } else {
                    println!("✗ exercise {} is not solved yet: {outcome}", e.number());
                    println!("  stuck? cargo run -p exercises -- hint {}", e.number());
                    1
                }
            }),
        Some("hint") if args.len() <= 2 => number(args.get(1))
            .and_then(|n| manifest.get(n).cloned())
            .map(|e| {
                println!(
                    "exercise {}: {}\n{}\n\nhint: {}",
                    e.number(),
                    e.name,
                    e.teaches,
                    e.hint.trim()
                );
                0
            }),
        Some("verify") if args.len() == 1 => verify(&cargo, &manifest).map(|verdicts| {
            for v in &verdicts {
                let mark = if v.ok { "✓" } else { "✗" };
                println!(
                    "{mark} {} {}: {}",
                    v.exercise.dir, v.exercise.name, v.detail
                );
            }
            println!("{}", summary(&verdicts));
            u8::from(verdicts.iter().any(|v| !v.ok))
        }),
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("exercises: {e}");
            ExitCode::from(2)
        }
    }
}

fn list(cargo: &Cargo, manifest: &Manifest) -> Result<u8, String> {
    let packages: Vec<String> = manifest.exercises.iter().map(|e| e.package()).collect();
    if let Err(e) = cargo.build(&packages) {
        println!("(some exercises do not compile yet)\n{e}");
    }
    let mut solved = 0;
    for e in &manifest.exercises {
        let (ok, outcome, _) = check(cargo, e);
        solved += usize::from(ok);
        let mark = if ok { "✓" } else { "✗" };
        let note = match outcome {
            Outcome::Passed => String::new(),
            other => format!("  ({other})"),
        };
        println!(
            "{mark} {:>2}  {:<24} {:>2} min  {}{note}",
            e.number(),
            e.name,
            e.minutes,
            e.teaches
        );
    }
    println!(
        "\n{solved} of {} solved. Next: cargo run -p exercises -- check N",
        manifest.exercises.len()
    );
    Ok(0)
}
