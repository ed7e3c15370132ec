//! The `fdlab` command: parses the command line and calls the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use fdlab::detector::DetectorSpec;
use fdlab::replay::{self, CrashDecl, LevelSampler, ReplayConfig};
use fdlab::report::{AtomicFile, write_atomic};
use fdlab::time::Nanos;

#[derive(Parser)]
#[command(name = "fdlab", version, about = "Failure-detector and timeout testbed")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replay an arrival trace (CSV) through detectors and measure their QoS exactly.
    Replay(ReplayArgs),
    /// List every detector kind with its keys and defaults.
    Detectors,
}

#[derive(clap::Args)]
struct ReplayArgs {
    /// Trace CSV: header with `target,received_ns` and optionally `monitor,seq,sent_ns,incarnation`.
    trace: PathBuf,
    /// A detector spec, `KIND[:key=value,...]`, e.g. `phi:threshold=8` or `fixed:timeout=300ms`;
    /// repeat for more. A knob may be a sweep: `phi:threshold=1..16`, `fixed:timeout=100ms|1s`.
    #[arg(long = "detector", short = 'd', required = true, value_name = "SPEC")]
    detectors: Vec<DetectorSpec>,
    /// Where to write summary.json [default: results/<trace file stem>].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Declare that TARGET crashed (crash-stop) at TIME, e.g. `b@90s`; repeat for more targets.
    #[arg(long = "crash", value_name = "TARGET@TIME")]
    crashes: Vec<CrashDecl>,
    /// Write sampled levels (`time_ns,target,detector,level,suspected`) to this CSV.
    #[arg(long, requires = "every", value_name = "FILE")]
    levels: Option<PathBuf>,
    /// Sampling period for --levels, e.g. `100ms`.
    #[arg(long, requires = "levels", value_name = "DUR")]
    every: Option<Nanos>,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Replay(args) => replay_command(args),
        Command::Detectors => print_stdout(&fdlab::detector::spec::describe_kinds()),
    }
}

fn replay_command(args: ReplayArgs) -> anyhow::Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    for c in &args.crashes {
        anyhow::ensure!(seen.insert(&c.target), "--crash names target `{}` twice", c.target);
    }
    if args.every == Some(Nanos::ZERO) {
        anyhow::bail!("--every must be greater than zero");
    }
    let out = args.out.clone().unwrap_or_else(|| replay::default_out_dir(&args.trace));
    let config = ReplayConfig { trace: args.trace, detectors: args.detectors, crashes: args.crashes };
    let mut levels_file = match &args.levels {
        Some(path) => Some(AtomicFile::create(path).with_context(|| format!("creating {}", path.display()))?),
        None => None,
    };
    let sampler = match (&mut levels_file, args.every) {
        (Some(f), Some(every)) => Some(LevelSampler { every, out: f.writer() }),
        _ => None,
    };
    let summary = replay::replay(&config, sampler)?;
    let summary_path = out.join("summary.json");
    write_atomic(&summary_path, summary.to_json().as_bytes())
        .with_context(|| format!("writing {}", summary_path.display()))?;
    if let (Some(f), Some(path)) = (levels_file, &args.levels) {
        f.commit().with_context(|| format!("writing {}", path.display()))?;
    }
    eprintln!("wrote {}", summary_path.display());
    print_stdout(&summary.table())
}

/// Prints to stdout; a reader that went away (`fdlab ... | head`) is not an error.
fn print_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
