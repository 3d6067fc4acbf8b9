//! `cargo run -p exercises -- <command>`: the workshop's checker.
//!
//! ```text
//! list       every exercise, ✓ solved / ✗ not yet, in teaching order
//! check N    run exercise N's leak test and show its report
//! hint N     where to look for help on exercise N
//! verify     (maintainers, CI) every exercise fails because of its leak, every solution
//!            passes, and every known cheat (exercises/cheats.toml) is rejected
//! ```
//!
//! It checks the workshop folder it is run in (the nearest folder with
//! `exercises/info.toml`), and says which.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use exercises::cheats::{self, Catalogue};
use exercises::{Cargo, Manifest, Outcome, check, summary, verify};

/// The workshop's checker: which exercises are solved, one exercise's leak test, hints.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// The workshop folder to check [default: the nearest folder at or above the current
    /// one that has exercises/info.toml]
    #[arg(long, global = true)]
    workspace: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Every exercise, ✓ solved / ✗ not yet, in teaching order.
    List,
    /// Run exercise N's leak test and show its report.
    Check {
        /// The exercise's number (see `list`).
        n: u32,
    },
    /// Where to look for help on exercise N.
    Hint {
        /// The exercise's number (see `list`).
        n: u32,
    },
    /// (Maintainers, CI.) Every exercise fails because of its leak, every solution passes,
    /// and every known cheat (exercises/cheats.toml) is rejected.
    Verify {
        /// Skip the cheats (faster; for working on one exercise).
        #[arg(long)]
        no_cheats: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("exercises: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<u8, String> {
    let cargo = match cli.workspace {
        Some(dir) => Cargo::at(exercises::find_workspace(&dir)?),
        None => Cargo::here()?,
    };
    let manifest = Manifest::load(&cargo.manifest_path())?;
    eprintln!("checking the exercises in {}", cargo.root.display());
    match cli.command {
        Command::List => list(&cargo, &manifest),
        Command::Check { n } => {
            let e = manifest.get(n)?.clone();
            println!("exercise {}: {} ({})\n", e.number(), e.name, e.dir);
            let (solved, outcome, output) = check(&cargo, &e);
            println!("{output}");
            if solved {
                println!("✓ exercise {} is solved: {outcome}", e.number());
                Ok(0)
            } else {
                println!("✗ exercise {} is not solved yet: {outcome}", e.number());
                println!("  stuck? cargo run -p exercises -- hint {}", e.number());
                Ok(1)
            }
        }
        Command::Hint { n } => {
            let e = manifest.get(n)?;
            println!(
                "exercise {}: {}\n{}\n\nhint: {}",
                e.number(),
                e.name,
                e.teaches,
                e.hint.trim()
            );
            Ok(0)
        }
        Command::Verify { no_cheats } => {
            let verdicts = verify(&cargo, &manifest)?;
            for v in &verdicts {
                let mark = if v.ok { "✓" } else { "✗" };
                println!(
                    "{mark} {} {}: {}",
                    v.exercise.dir, v.exercise.name, v.detail
                );
            }
            let mut failed = verdicts.iter().any(|v| !v.ok);
            let mut lines = vec![summary(&verdicts)];
            if !no_cheats {
                let catalogue = Catalogue::load(&cargo.root.join("exercises/cheats.toml"))?;
                println!("\ntrying {} known cheats...", catalogue.cheats.len());
                let cheats =
                    cheats::run(&cargo, &manifest, &catalogue, &cheats::scratch_dir(&cargo))?;
                for v in &cheats {
                    let mark = if v.accepted { "✗" } else { "✓" };
                    println!(
                        "{mark} cheat on {:02}: {} — {}",
                        v.cheat.exercise, v.cheat.name, v.detail
                    );
                }
                failed |= !cheats::all_rejected(&cheats);
                lines.push(cheats::summary(&cheats));
            }
            println!();
            for line in lines {
                println!("{line}");
            }
            Ok(u8::from(failed))
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
