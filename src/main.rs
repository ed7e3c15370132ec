//! The `fdlab` command: parses the command line and calls the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use fdlab::detector::DetectorSpec;
use fdlab::experiment::{Experiment, QUICKSTART};
use fdlab::replay::{self, CrashDecl, ReplayConfig};
use fdlab::report::replay_dir::{LevelsOutput, replay_to_dir};
use fdlab::report::{ResultsWriter, parent_dir, write_results};
use fdlab::sim::RunOptions;
use fdlab::time::Nanos;

#[derive(Parser)]
#[command(name = "fdlab", version, about = "Failure-detector and timeout testbed")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate an experiment (the built-in quickstart without a file) and measure every detector.
    Run(RunArgs),
    /// Check experiment files without running them.
    Validate {
        /// Experiment files (TOML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Replay an arrival trace (CSV) through detectors and measure their QoS exactly.
    Replay(ReplayArgs),
    /// List every detector kind with its keys and defaults.
    Detectors,
    /// Draw every chart a results directory supports (PNG and SVG) and its report.html.
    Plot {
        /// A results directory written by `run` (or `replay`).
        dir: PathBuf,
    },
    /// Run an experiment live: one real process per node on 127.0.0.1, real UDP heartbeats
    /// through a fault-injecting relay, crashes as SIGKILL, pauses as SIGSTOP/SIGCONT.
    #[cfg(unix)]
    Live(LiveArgs),
    /// One live node: send heartbeats over UDP to peers, watch theirs with detectors, and
    /// write the arrival trace and suspicion transitions as it goes (across machines too).
    #[cfg(unix)]
    Node(Box<NodeArgs>),
    /// Benchmark helper: play PEERS senders heartbeating one node (scripts/bench-live.py).
    #[cfg(unix)]
    #[command(hide = true)]
    BenchPeers {
        #[arg(long)]
        target: std::net::SocketAddr,
        #[arg(long)]
        peers: usize,
        #[arg(long, default_value = "100ms")]
        interval: Nanos,
        #[arg(long)]
        duration: Nanos,
    },
    /// Recommend, per detector family and preset, the fastest configuration whose mistake rate
    /// meets a target with 95 % confidence, from a trace or an experiment; export it for
    /// Akka/Pekko, Cassandra and Hazelcast.
    Tune(TuneArgs),
    /// Fit a network model to a trace (delay, correlation, loss, duplication, pauses) and write it
    /// as an experiment that reproduces the trace's network.
    Fit(FitArgs),
    /// Merge the shard directories of one run (`run --shard I/N`) into its results directory,
    /// exactly: the same files, byte for byte, as the run done whole.
    Merge(MergeArgs),
    /// Write results/index.html: every experiment's question and answer, linked to its report.
    Index {
        /// The experiment files (`*.toml`; subdirectories are not part of the suite).
        #[arg(long, default_value = "experiments")]
        experiments: PathBuf,
        /// Where the results directories are, named after the experiments.
        #[arg(long, default_value = "results")]
        results: PathBuf,
        /// The page [default: RESULTS/index.html]; replaced only if fdlab wrote it. Its links
        /// are relative to RESULTS, so a page written elsewhere links correctly only when
        /// moved there.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
struct ReplayArgs {
    /// Trace CSV: header with `target,received_ns` and optionally `monitor,seq,sent_ns,incarnation`.
    trace: PathBuf,
    /// A detector spec, `KIND[:key=value,...]`, e.g. `phi:threshold=8` or `fixed:timeout=300ms`;
    /// repeat for more. A knob may be a sweep: `phi:threshold=1..16`, `fixed:timeout=100ms|1s`.
    #[arg(long = "detector", short = 'd', required = true, value_name = "SPEC")]
    detectors: Vec<DetectorSpec>,
    /// Results directory [default: results/<trace file stem>]: summary.json, mistakes.csv,
    /// interarrival.hgrm, delay.hgrm (with sent_ns), detection-time/*.hgrm and
    /// mistake-duration/*.hgrm per detector, faults.json and timeline/ (levels sampled around
    /// each declared fault, or the longest silence), levels.csv with --every, charts/*.png and
    /// *.svg and report.html (unless --no-charts), .fdlab-manifest. Replaced as a whole, and
    /// only if fdlab wrote it (its .fdlab-manifest lists everything in it).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Declare that TARGET crashed at TIME and never came back (`b@90s`), or was down from
    /// FROM and running again from TO (`b@90s..2m`); repeat for more crashes and targets.
    #[arg(long = "crash", value_name = "TARGET@TIME|TARGET@FROM..TO")]
    crashes: Vec<CrashDecl>,
    /// Declare that a MONITOR crashed at TIME (`a@90s`: it observes no more) or was down from
    /// FROM to TO (`a@90s..2m`: it restarts with fresh detectors); repeat for more. A trace
    /// without a `monitor` column names its one monitor as empty: `@90s..2m`.
    #[arg(long = "monitor-crash", value_name = "MONITOR@TIME|MONITOR@FROM..TO")]
    monitor_crashes: Vec<CrashDecl>,
    /// Declare that NODE was paused (alive but stalled: a GC pause, SIGSTOP) from FROM to
    /// TO, `b@90s..92s`; repeat for more. A paused target's mistakes are attributed to the
    /// pause; a paused monitor's checks that fell due in the pause fire at its end, before
    /// the heartbeats it buffered (as the simulator's default `resume_order`).
    #[arg(long = "pause", value_name = "NODE@FROM..TO", value_parser = parse_pause)]
    pauses: Vec<CrashDecl>,
    /// Where the run ends [default: the last arrival], e.g. the duration of the simulation
    /// that wrote the trace.
    #[arg(long, value_name = "TIME")]
    end: Option<Nanos>,
    /// Sample every detector's level every DUR, e.g. `100ms`, into levels.csv in the results
    /// directory (`fault,time_ns,monitor,target,detector,level,threshold,suspected`, the one
    /// schema of level files: docs/summary.md). The size is estimated before the replay
    /// starts (samples × detector configurations × links × about 40 bytes) and refused above
    /// 2 GB unless --allow-large is given.
    #[arg(long, value_name = "DUR")]
    every: Option<Nanos>,
    /// Write --every's levels here instead: a path inside the results directory, or a new file
    /// elsewhere (fdlab never replaces a file outside its results directories, nor the trace).
    #[arg(long, requires = "every", value_name = "FILE")]
    levels: Option<PathBuf>,
    /// Replay even when the trace's links × detector configurations are estimated to need
    /// more than 80 % of this machine's memory, and write --every's levels even when they
    /// are estimated above 2 GB.
    #[arg(long)]
    allow_large: bool,
    /// Do not draw charts and report.html (`fdlab plot DIR` draws them later).
    #[arg(long)]
    no_charts: bool,
    /// The suspicion timeline shows, per detector spec, the setting with the most mistakes
    /// per day not above RATE (else the kind's default, else the one with the fewest).
    #[arg(long, value_name = "RATE", default_value = "1/day", value_parser = parse_target)]
    target: f64,
    /// The unit of the trace's timestamps (`received_ns`, `sent_ns`): `ns` integers, or decimal
    /// `s`, `ms` or `us` (`1700000000.123456789`), converted exactly to nanoseconds; more
    /// fractional digits than whole nanoseconds allow is an error naming the line.
    #[arg(long, value_name = "s|ms|us|ns", default_value = "ns")]
    time_unit: fdlab::trace::TimeUnit,
    /// Cluster views and split brain (docs/split-brain.md) from a trace with a `monitor`
    /// column, under `lowest-unsuspected` and `majority`; the declared crashes and pauses are
    /// the ground truth.
    #[arg(long, conflicts_with = "cluster_from")]
    cluster: bool,
    /// Cluster views with the `[cluster]` table of an experiment file (rules, lease, …),
    /// e.g. the experiment a live run recorded the trace from.
    #[arg(long, value_name = "EXPERIMENT.toml")]
    cluster_from: Option<PathBuf>,
}

#[cfg(unix)]
#[derive(clap::Args)]
struct LiveArgs {
    /// Experiment file (TOML). Fields live mode cannot honour are refused by name.
    experiment: PathBuf,
    /// Override the experiment's seed (it seeds the relay's link models and random faults).
    #[arg(long)]
    seed: Option<u64>,
    /// Results directory [default: results/<experiment name>-live].
    #[arg(long)]
    out: Option<PathBuf>,
    /// A file whose bytes are a shared key: heartbeats then carry an HMAC-SHA256 tag, and
    /// forged or replayed ones are rejected.
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
    /// Do not draw charts and report.html.
    #[arg(long)]
    no_charts: bool,
    /// Run each node in a network namespace of its own, joined to the relay by a veth pair
    /// (needs root and iproute2's `ip`; refused otherwise). All are removed at the end, on
    /// Ctrl-C and when a node dies.
    #[arg(long)]
    netns: bool,
}

#[cfg(unix)]
#[derive(clap::Args)]
struct NodeArgs {
    /// This node's id (its name in traces; the wire carries a 32-bit hash of it).
    #[arg(long)]
    id: String,
    /// The UDP address to bind, e.g. `0.0.0.0:7000` (`127.0.0.1:0`: any free port). The bound
    /// address is printed on stdout as `listening ADDR`.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// A peer that receives this node's heartbeats: `ID=ADDR`; repeat for more.
    #[arg(long = "peer", value_name = "ID=ADDR", value_parser = parse_peer)]
    peers: Vec<(String, std::net::SocketAddr)>,
    /// A peer whose heartbeats this node watches [default: every --peer]; repeat for more.
    #[arg(long = "monitor", value_name = "ID")]
    monitor: Vec<String>,
    /// Heartbeat interval.
    #[arg(long, default_value = "100ms")]
    interval: Nanos,
    /// Uniform random delay added to each send, below the interval.
    #[arg(long, default_value = "0")]
    jitter: Nanos,
    /// After the process was stopped past its slots: `skip` them, or `send-now` (one at once).
    #[arg(long, default_value = "skip", value_parser = ["skip", "send-now"])]
    after_pause: String,
    /// A detector spec, as for `replay`; repeat for more. Sequence-aware ones get this node's
    /// --interval as the peers' interval unless the spec gives one.
    #[arg(long = "detector", short = 'd', required = true, value_name = "SPEC")]
    detectors: Vec<DetectorSpec>,
    /// Receive policy: `raw`, `dedup` or `drop-stale`.
    #[arg(long = "receive", default_value = "raw", value_parser = ["raw", "dedup", "drop-stale"])]
    receive: String,
    /// Cluster id: heartbeats of other clusters are rejected.
    #[arg(long, default_value_t = 0)]
    cluster: u64,
    /// A file whose bytes are the shared key (HMAC-SHA256); also FDLAB_KEY (hex) in the
    /// environment.
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
    /// This process's incarnation [default: ms since the Unix epoch, which grows across
    /// restarts].
    #[arg(long)]
    incarnation: Option<u64>,
    /// The seq of the first heartbeat.
    #[arg(long, default_value_t = 0)]
    seq_start: u64,
    /// CLOCK_MONOTONIC ns of time 0 [default: now]: nodes on one machine given one epoch
    /// share a time line, and one-way delays are exact.
    #[arg(long)]
    epoch_ns: Option<u64>,
    /// Stop after this long from the epoch [default: at SIGTERM or Ctrl-C].
    #[arg(long)]
    duration: Option<Nanos>,
    /// Directory for trace.csv, transitions.csv and timing-<incarnation>.json (new files;
    /// existing ones are refused unless --append).
    #[arg(long)]
    out: PathBuf,
    /// Continue the files in --out (a restarted node).
    #[arg(long)]
    append: bool,
    /// Seed of the send jitter.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// This node's clock rate relative to real time, in [0.5, 2] (1 = exact): its send
    /// schedule and its detectors' timers run on a clock reading `rate · (real − epoch)`,
    /// so 0.5 sends every 2 s for a 1 s --interval and stretches its timeouts twofold.
    #[arg(long, default_value_t = 1.0)]
    clock_rate: f64,
    /// Spread the heartbeats to many peers over the interval: peers in groups of 32, group
    /// g of G sending at g/G of each interval (each peer still hears one every interval), so
    /// that no deadline waits for a thousand sends.
    #[arg(long)]
    spread: bool,
    /// Die with the process that started this one (the orchestrator of `fdlab live`).
    #[arg(long)]
    die_with_parent: bool,
}

#[cfg(unix)]
fn parse_peer(s: &str) -> Result<(String, std::net::SocketAddr), String> {
    let (id, addr) = s.split_once('=').ok_or_else(|| format!("`{s}` is not ID=ADDR, e.g. `b=10.0.0.2:7000`"))?;
    let addr = addr.parse().map_err(|e| format!("`{s}`: {e}"))?;
    if id.is_empty() {
        return Err(format!("`{s}`: the id is empty"));
    }
    Ok((id.to_string(), addr))
}

fn parse_pause(s: &str) -> Result<CrashDecl, String> {
    let d: CrashDecl = s.parse()?;
    if d.to.is_none() {
        return Err(format!("`{s}`: a pause ends: NODE@FROM..TO, e.g. `b@90s..92s`"));
    }
    Ok(d)
}

#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("input").required(true).args(["trace", "experiment"]))]
struct TuneArgs {
    /// A recorded trace (CSV, as `replay` reads it), replayed.
    #[arg(long, value_name = "TRACE.csv")]
    trace: Option<PathBuf>,
    /// An experiment file, simulated (e.g. a fitted model of a trace, run long).
    #[arg(long, value_name = "EXP.toml")]
    experiment: Option<PathBuf>,
    /// The most mistakes allowed: `1/day`, `0.001/s`, `2/h`, `1 per week`, `once a month`
    /// (month = 30 d, year = 365 d).
    #[arg(long, value_name = "RATE")]
    max_mistakes: fdlab::tune::MistakeTarget,
    /// A family to tune, `KIND` or `PRESET`, with keys to hold (`phi:window=200`) or to search
    /// (`phi:pause=0|1s|3s`; the knob as a sweep, `threshold=4..12`); repeat for more
    /// [default: fixed, phi, phi-exp, chen (with seq), akka-cluster, cassandra,
    /// hazelcast-deadline, hazelcast-phi].
    #[arg(long = "detector", short = 'd', value_name = "SPEC")]
    detectors: Vec<String>,
    /// What fastest means: `p99` or `mean` detection time.
    #[arg(long, default_value = "p99")]
    objective: fdlab::tune::Objective,
    /// What the target is per: `link`, `node` (all its monitors) or `cluster`.
    #[arg(long, default_value = "link")]
    per: fdlab::tune::Per,
    /// With --trace: declare that TARGET crashed at TIME (`b@90s`) or was down from FROM to TO
    /// (`b@90s..2m`), as for `replay`; repeat for more. Detection time is then measured over
    /// the declared crashes instead of estimated per heartbeat.
    #[arg(long = "crash", value_name = "TARGET@TIME|TARGET@FROM..TO")]
    crashes: Vec<CrashDecl>,
    /// With --trace: declare that a MONITOR crashed at TIME or was down from FROM to TO, as for
    /// `replay` (a trace without a `monitor` column names its one monitor as empty: `@90s..2m`).
    #[arg(long = "monitor-crash", value_name = "MONITOR@TIME|MONITOR@FROM..TO")]
    monitor_crashes: Vec<CrashDecl>,
    /// With --trace: declare that NODE was paused (alive but stalled) from FROM to TO, as for
    /// `replay`, `b@90s..92s`.
    #[arg(long = "pause", value_name = "NODE@FROM..TO", value_parser = parse_pause)]
    pauses: Vec<CrashDecl>,
    /// With --trace: where the run ends [default: the last arrival], e.g. to give a crash
    /// declared after the last heartbeat time to be detected.
    #[arg(long, value_name = "TIME")]
    end: Option<Nanos>,
    /// Override the experiment's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Results directory [default: results/tune-<input file stem>]: tune.json, the exported
    /// configurations, charts/tradeoff.png. Replaced as a whole, and only if fdlab wrote it.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Simulate (or replay) even when the estimate exceeds this machine's memory or hours of
    /// work.
    #[arg(long)]
    allow_large: bool,
}

#[derive(clap::Args)]
struct FitArgs {
    /// Trace CSV (the format `replay` reads); `sent_ns` gives one-way delays, `seq` losses.
    trace: PathBuf,
    /// Output directory [default: results/<trace file stem>-fit]: fit.json, experiment.toml (and
    /// delays/*.csv for empirical delays). Replaced as a whole, and only if fdlab wrote it.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Experiment file (TOML); without one, the built-in quickstart (experiments/quickstart.toml).
    experiment: Option<PathBuf>,
    /// Override the experiment's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Results directory [default: results/<experiment name>].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also write every delivered heartbeat as trace.csv (the format `replay` reads); with
    /// --replications, replication 0's (the experiment's own seed), which replays to its
    /// figures.
    #[arg(long)]
    trace: bool,
    /// Worker threads [default: the machine's cores].
    #[arg(long)]
    threads: Option<usize>,
    /// Do not draw charts and report.html (`fdlab plot DIR` draws them later).
    #[arg(long)]
    no_charts: bool,
    /// The suspicion timeline shows, per detector spec, the setting with the most mistakes
    /// per day not above RATE (else the kind's default, else the one with the fewest).
    #[arg(long, value_name = "RATE", default_value = "1/day", value_parser = parse_target)]
    target: f64,
    /// Run even when the estimate (`fdlab validate` prints it) exceeds this machine's memory
    /// or hours of work.
    #[arg(long)]
    allow_large: bool,
    /// Run R independent replications (replication 0 under the experiment's seed, the others
    /// under seeds derived from it) and report every figure pooled, with its spread across
    /// replications (summary.json: `replications`; docs/summary.md).
    #[arg(long, value_name = "R", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    replications: u32,
    /// Run only shard I of N (I from 0): a share of the work units (replication × detector
    /// spec) whose exact state goes to DIR/shard.json; `fdlab merge` combines the N shard
    /// directories into the whole run's results, byte for byte.
    #[arg(long, value_name = "I/N", conflicts_with = "trace")]
    shard: Option<fdlab::sim::shard::ShardSpec>,
}

#[derive(clap::Args)]
struct MergeArgs {
    /// The shard directories (`fdlab run --shard I/N --out DIR`), every shard of one run once,
    /// in any order.
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// The results directory to write (replaced as a whole, and only if fdlab wrote it).
    #[arg(long)]
    out: PathBuf,
    /// Do not draw charts and report.html.
    #[arg(long)]
    no_charts: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    #[cfg(unix)]
    if let Command::Node(args) = cli.command {
        return match node_command(*args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {}", message(&e));
                ExitCode::FAILURE
            }
        };
    }
    if let Err(e) = remove_staging_on_signals() {
        eprintln!("error: installing the signal handler: {e}");
        return ExitCode::FAILURE;
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", message(&e));
            ExitCode::FAILURE
        }
    }
}

/// On SIGINT (Ctrl-C), SIGTERM or SIGHUP: removes every staging path fdlab has registered
/// (results being written, levels, charts) and exits with 128 + the signal's number (130,
/// 143, 129), as a shell reports a process the signal ended. signal-hook rather than ctrlc:
/// its handler thread is told which signal came (ctrlc's is not, so 130 and 143 could not be
/// told apart), and it runs as an ordinary thread, so it may take the staging registry's lock
/// and remove files, which a handler in signal context may not.
#[cfg(unix)]
fn remove_staging_on_signals() -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        if let Some(signal) = signals.forever().next() {
            // Live nodes first: no process is left behind.
            fdlab::live::kill_all();
            fdlab::report::staging::remove_all_and_exit(128 + signal);
        }
    })?;
    Ok(())
}

#[cfg(not(unix))]
fn remove_staging_on_signals() -> std::io::Result<()> {
    Ok(())
}

/// Free space for this user in the file system holding `dir`, when it can be read.
fn free_bytes(dir: &Path) -> Option<u128> {
    #[cfg(unix)]
    {
        let stat = nix::sys::statvfs::statvfs(dir).ok()?;
        Some(stat.blocks_available() as u128 * stat.fragment_size() as u128)
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        None
    }
}

/// An error and its causes on one line, each cause only if the text before does not already
/// say it (library errors name their cause in their own message).
fn message(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Replay(args) => replay_command(args),
        Command::Run(args) => run_command(args),
        Command::Merge(args) => merge_command(args),
        Command::Validate { files } => validate_command(&files),
        Command::Plot { dir } => plot_command(&dir),
        Command::Tune(args) => tune_command(args),
        Command::Fit(args) => fit_command(args),
        Command::Detectors => print_stdout(&fdlab::detector::catalog::describe_kinds()),
        #[cfg(unix)]
        Command::Live(args) => live_command(args),
        #[cfg(unix)]
        Command::BenchPeers { target, peers, interval, duration } => {
            let sent = fdlab::live::load::play_peers(target, peers, interval, duration, 0)?;
            println!("{sent}");
            Ok(())
        }
        #[cfg(unix)]
        Command::Node(_) => unreachable!("handled in main"),
        Command::Index { experiments, results, out } => {
            let out = out.unwrap_or_else(|| results.join("index.html"));
            let n = fdlab::report::index::write_index(&experiments, &results, &out)?;
            eprintln!("wrote {} ({n} experiments)", out.display());
            Ok(())
        }
    }
}

fn run_command(args: RunArgs) -> anyhow::Result<()> {
    let (experiment, base_dir) = match &args.experiment {
        Some(path) => (Experiment::load(path)?, path.parent().map(PathBuf::from).unwrap_or_default()),
        None => {
            (Experiment::from_toml(Path::new("experiments/quickstart.toml (built in)"), QUICKSTART)?, PathBuf::new())
        }
    };
    for w in experiment.warnings() {
        eprintln!("warning: {w}");
    }
    // What this run takes: its replications, or the shard's units of them.
    let estimate = match args.shard {
        Some(shard) => fdlab::sim::shard::plan(&experiment, args.replications, shard).estimate(&experiment),
        None => fdlab::sim::estimate(&experiment, args.replications),
    };
    if !args.allow_large {
        estimate.fits().map_err(|e| anyhow::anyhow!("refusing to run {e} (`--allow-large` runs it anyway)"))?;
    }
    let out = args.out.clone().unwrap_or_else(|| Path::new("results").join(&experiment.name));
    // Replacing the output directory must not delete what the run reads.
    if let Some(path) = &args.experiment {
        fdlab::report::check_experiment_outside(path, &experiment, &out)?;
    }
    // Before simulating: a long run must not end in a refusal to write, or an unwritable
    // directory. This creates the parent and the staging directory there.
    let writer = ResultsWriter::begin(&out)?;
    // A recorded trace is kept beside the output directory (same file system) until written:
    // 40 bytes a heartbeat while the run goes on, then about 48 in trace.csv.
    let scratch_dir = args.trace.then(|| parent_dir(&out).to_path_buf());
    if let Some(dir) = &scratch_dir
        && !args.allow_large
    {
        let needed = experiment.estimate().trace_bytes / 48 * 88;
        if let Some(free) = free_bytes(dir)
            && needed > free
        {
            anyhow::bail!(
                "refusing to run with --trace: the trace needs up to {} in {} (spill and trace.csv), which has \
                 {} free (`--allow-large` runs it anyway)",
                bytes(needed),
                dir.display(),
                bytes(free)
            );
        }
    }
    let options = RunOptions {
        seed: args.seed,
        base_dir,
        record_trace: args.trace,
        scratch_dir,
        threads: args.threads.unwrap_or(0),
        allow_large: args.allow_large,
        extra_rules: Vec::new(),
        timeline_target_per_day: Some(args.target),
        replications: args.replications,
    };
    let monitors = experiment.monitored_links().iter().map(|l| l.0).collect::<std::collections::BTreeSet<_>>().len();
    if let Some(shard) = args.shard {
        let plan = fdlab::sim::shard::plan(&experiment, args.replications, shard);
        let units = plan.units.len();
        let bar = Progress::new(experiment.duration.0 / 1_000_000 * (monitors * units) as u64, "simulated");
        let state =
            fdlab::sim::shard::run_shard(&experiment, &options, shard, &|done| bar.advance(done.0 / 1_000_000))?;
        bar.finish();
        writer.add(Path::new(fdlab::sim::shard::SHARD_FILE), &state.to_json())?;
        writer.commit()?;
        eprintln!(
            "wrote {} (shard {shard}: {units} of {} work units, {}; `fdlab merge` the {} shard directories)",
            out.display(),
            plan.total,
            if plan.by_configuration { "each a detector configuration" } else { "each a detector spec" },
            shard.count
        );
        return Ok(());
    }
    let bar =
        Progress::new(experiment.duration.0 / 1_000_000 * monitors as u64 * args.replications as u64, "simulated");
    let output = fdlab::sim::run(&experiment, &options, &|done| bar.advance(done.0 / 1_000_000))?;
    bar.finish();
    let rows = output.trace.as_ref().map_or(Ok(0), |t| t.row_count()).context("reading the recorded trace")?;
    let bar = Progress::new(rows, "of trace.csv written");
    write_results(writer, &output, &|written| bar.advance(written))?;
    bar.finish();
    eprintln!("wrote {} ({} heartbeats delivered)", out.display(), output.deliveries);
    print_stdout(&output.summary.table())?;
    if !args.no_charts {
        plot_command(&out)?;
    }
    Ok(())
}

fn merge_command(args: MergeArgs) -> anyhow::Result<()> {
    // Replacing the output directory must not delete a shard being merged.
    for dir in &args.dirs {
        fdlab::report::check_outside(dir, &args.out, "the shard")?;
    }
    // Before reading the shards: the output must be replaceable and its parent writable.
    let writer = ResultsWriter::begin(&args.out)?;
    let output = fdlab::sim::shard::merge(&args.dirs)?;
    write_results(writer, &output, &|_| {})?;
    eprintln!("wrote {} (merged {} shards)", args.out.display(), args.dirs.len());
    print_stdout(&output.summary.table())?;
    if !args.no_charts {
        plot_command(&args.out)?;
    }
    Ok(())
}

#[cfg(unix)]
fn read_key(path: &Path) -> anyhow::Result<Vec<u8>> {
    let key = std::fs::read(path).with_context(|| format!("--key-file {}", path.display()))?;
    anyhow::ensure!(!key.is_empty(), "--key-file {}: the file is empty", path.display());
    Ok(key)
}

#[cfg(unix)]
fn live_command(args: LiveArgs) -> anyhow::Result<()> {
    if args.netns {
        // Refused before anything starts, with the reason (not root, no `ip`).
        fdlab::live::netns::available()?;
    }
    let mut experiment = Experiment::load(&args.experiment)?;
    if let Some(seed) = args.seed {
        let mut e = experiment.into_inner();
        e.seed = seed;
        experiment = e.check(&args.experiment)?;
    }
    let base_dir = args.experiment.parent().map(PathBuf::from).unwrap_or_default();
    let out = args.out.clone().unwrap_or_else(|| Path::new("results").join(format!("{}-live", experiment.name)));
    let opts = fdlab::live::LiveOptions {
        key: args.key_file.as_deref().map(read_key).transpose()?,
        netns: args.netns,
        ..fdlab::live::LiveOptions::default()
    };
    // Said once every check has passed, not before a refusal.
    let announce = || {
        eprintln!(
            "running {} live for {} ({} nodes; Ctrl-C stops it and removes what it wrote)",
            experiment.name,
            experiment.duration,
            experiment.nodes.len()
        )
    };
    let never = std::sync::atomic::AtomicBool::new(false);
    // A bar in ms of the run, shown only on a terminal (as `run`'s).
    let bar = Progress::new(experiment.duration.0 / 1_000_000, "of the live run");
    let done = std::sync::atomic::AtomicU64::new(0);
    let progress = |t: Nanos| {
        let ms = (t.0 / 1_000_000).min(experiment.duration.0 / 1_000_000);
        let before = done.fetch_max(ms, std::sync::atomic::Ordering::Relaxed);
        bar.advance(ms.saturating_sub(before));
    };
    let summary = fdlab::report::live_dir::live_to_dir(
        &experiment,
        &args.experiment,
        &base_dir,
        &out,
        &opts,
        &never,
        fdlab::report::live_dir::Watch { started: &announce, progress: &progress },
    );
    bar.finish();
    if summary.is_err() && fdlab::live::shutting_down() {
        // A signal came: its handler thread has killed the nodes and exits with 128 + the
        // signal once it has removed what was written; an error from here would race it.
        loop {
            std::thread::park();
        }
    }
    let summary = summary?;
    eprintln!("wrote {}", out.display());
    print_stdout(&summary.table())?;
    if let Some(live) = &summary.live {
        let show = |name: &str, l: &Option<fdlab::analysis::results::LatenessSummary>| match l {
            Some(l) => eprintln!(
                "{name} lateness: p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs ({} events)",
                l.p50_us, l.p99_us, l.max_us, l.count
            ),
            None => eprintln!("{name} lateness: no events"),
        };
        show("send", &live.send_lateness);
        show("check", &live.check_lateness);
        show("relay", &live.relay_lateness);
    }
    if !args.no_charts {
        plot_command(&out)?;
    }
    Ok(())
}

#[cfg(unix)]
fn node_command(args: NodeArgs) -> anyhow::Result<()> {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT, signal_hook::consts::SIGHUP] {
        signal_hook::flag::register(sig, stop.clone()).context("installing the signal handler")?;
    }
    if args.die_with_parent {
        let parent = nix::unistd::getppid();
        nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).context("--die-with-parent")?;
        // The parent may have died before the line above: then no signal would come.
        anyhow::ensure!(nix::unistd::getppid() == parent, "--die-with-parent: the parent has already exited");
    }
    let key = match (&args.key_file, std::env::var("FDLAB_KEY")) {
        (Some(path), _) => Some(read_key(path)?),
        (None, Ok(hex)) => Some(
            (0..hex.len())
                .step_by(2)
                .map(|i| hex.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
                .collect::<Option<Vec<u8>>>()
                .filter(|k| !k.is_empty())
                .context("FDLAB_KEY: not a key in hex")?,
        ),
        (None, Err(_)) => None,
    };
    let incarnation = args.incarnation.unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
    });
    let mut detectors = args.detectors;
    for d in &mut detectors {
        d.fill("interval", &args.interval.to_string()).context("--detector")?;
    }
    let policy = match args.receive.as_str() {
        "dedup" => fdlab::experiment::ReceivePolicy::Dedup,
        "drop-stale" => fdlab::experiment::ReceivePolicy::DropStale,
        _ => fdlab::experiment::ReceivePolicy::Raw,
    };
    let opts = fdlab::live::node::NodeOptions {
        id: args.id,
        listen: args.listen,
        peers: args.peers,
        monitor: args.monitor,
        interval: args.interval,
        jitter: args.jitter,
        after_pause: if args.after_pause == "send-now" {
            fdlab::experiment::AfterPause::SendNow
        } else {
            fdlab::experiment::AfterPause::Skip
        },
        detectors,
        policy,
        cluster: args.cluster,
        key,
        incarnation,
        seq_start: args.seq_start,
        epoch_ns: args.epoch_ns,
        duration: args.duration,
        out: args.out,
        append: args.append,
        seed: args.seed,
        spread: args.spread,
        clock: fdlab::time::Clock::from_rate(args.clock_rate).with_context(|| {
            format!("--clock-rate {}: must be between 0.5 and 2 (a clock rate, 1 = exact)", args.clock_rate)
        })?,
    };
    anyhow::ensure!(opts.interval > Nanos::ZERO, "--interval: must be greater than zero");
    anyhow::ensure!(opts.jitter < opts.interval, "--jitter: must be shorter than --interval");
    fdlab::live::node::run_node(opts, stop)?;
    Ok(())
}

fn plot_command(dir: &Path) -> anyhow::Result<()> {
    let (drawn, skipped) = fdlab::report::charts::plot_and_report(dir)?;
    for d in &drawn {
        eprintln!("drew {}", d.png.display());
    }
    for s in &skipped {
        eprintln!("not drawn: {s}");
    }
    if dir.join("summary.json").exists() {
        eprintln!("wrote {}", dir.join("report.html").display());
    }
    Ok(())
}

/// A size for a message: in MiB from 1 MiB up, in KiB below (never "0 MiB").
fn bytes(n: u128) -> String {
    if n >= 1 << 20 { format!("{} MiB", n >> 20) } else { format!("{} KiB", n.div_ceil(1 << 10)) }
}

fn validate_command(files: &[PathBuf]) -> anyhow::Result<()> {
    let mut failed = 0;
    for path in files {
        let base_dir = path.parent().map(PathBuf::from).unwrap_or_default();
        let loaded = Experiment::load(path).map_err(anyhow::Error::from).and_then(|e| {
            // The files it reads too, as `run` would before it starts.
            e.check_delay_traces(&base_dir).map_err(|err| anyhow::anyhow!("{}: {err}", path.display()))?;
            Ok(e)
        });
        match loaded {
            Ok(e) => {
                let estimate = e.estimate();
                println!(
                    "ok: {} ({}: {}, {}; {estimate})",
                    path.display(),
                    e.name,
                    count(e.nodes.len(), "node"),
                    count(e.faults().len(), "fault")
                );
                if let Err(why) = estimate.fits() {
                    println!("  note: `fdlab run` refuses it without `--allow-large`: {why}");
                }
                for w in e.warnings() {
                    println!("  warning: {w}");
                }
            }
            Err(err) => {
                eprintln!("error: {err}");
                failed += 1;
            }
        }
    }
    let verb = if failed == 1 { "is" } else { "are" };
    anyhow::ensure!(failed == 0, "{failed} of {} {verb} invalid", count(files.len(), "experiment file"));
    Ok(())
}

/// `--target`: a mistake rate in tune's forms (`1/day`, `2/h`, `once a week`), per day.
fn parse_target(text: &str) -> Result<f64, String> {
    let target: fdlab::tune::target::MistakeTarget =
        text.parse().map_err(|e: fdlab::tune::target::TargetError| e.reason)?;
    Ok(target.per_day())
}

/// `1 node`, `2 nodes`.
fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// A progress bar on stderr for runs longer than a second, only when stderr is a terminal.
struct Progress {
    bar: indicatif::ProgressBar,
    start: std::time::Instant,
    shown: std::sync::atomic::AtomicBool,
}

impl Progress {
    /// A bar over `total` units of work, saying `what` the percentage is of.
    fn new(total: u64, what: &str) -> Progress {
        let bar = indicatif::ProgressBar::with_draw_target(Some(total), indicatif::ProgressDrawTarget::hidden());
        let template = format!("{{elapsed_precise}} [{{bar:40}}] {{percent}}% {what}, eta {{eta}}");
        bar.set_style(
            indicatif::ProgressStyle::with_template(&template).expect("valid template").progress_chars("=> "),
        );
        Progress { bar, start: std::time::Instant::now(), shown: false.into() }
    }

    fn advance(&self, done: u64) {
        use std::sync::atomic::Ordering;
        if !self.shown.load(Ordering::Relaxed)
            && self.start.elapsed().as_secs_f64() > 1.0
            && std::io::IsTerminal::is_terminal(&std::io::stderr())
        {
            self.shown.store(true, Ordering::Relaxed);
            self.bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
        self.bar.inc(done);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn replay_command(args: ReplayArgs) -> anyhow::Result<()> {
    let out = args.out.clone().unwrap_or_else(|| replay::default_out_dir(&args.trace));
    let levels = args.every.map(|every| LevelsOutput { every, path: args.levels, allow_large: args.allow_large });
    let mut config = ReplayConfig {
        trace: args.trace,
        detectors: args.detectors,
        crashes: args.crashes,
        monitor_crashes: args.monitor_crashes,
        end: args.end,
        pauses: args.pauses,
        time_unit: args.time_unit,
        timeline_target_per_day: Some(args.target),
        memory_limit: if args.allow_large { None } else { fdlab::experiment::memory_limit() },
        cluster: match &args.cluster_from {
            Some(path) => Some(
                Experiment::load(path)?
                    .cluster
                    .clone()
                    .ok_or_else(|| anyhow::anyhow!("{}: has no [cluster] table for --cluster-from", path.display()))?,
            ),
            None => args.cluster.then(fdlab::experiment::ClusterSettings::default),
        },
        ..ReplayConfig::default()
    };
    if let Some(inferred) = config.infer_intervals()? {
        eprintln!(
            "interval of {} inferred from the trace: {} (the median of Δsent_ns/Δseq over {} pairs of rows of one \
             link and incarnation, rounded to 1 µs; give `interval=` to set it)",
            inferred.detectors.join(", "),
            inferred.interval,
            inferred.pairs
        );
    }
    let summary = replay_to_dir(&config, &out, levels.as_ref())?;
    for w in &summary.trace_warnings {
        eprintln!("warning: {}: {}", config.trace.display(), w.message);
    }
    eprintln!("wrote {}", out.display());
    print_stdout(&summary.table())?;
    if !args.no_charts {
        plot_command(&out)?;
    }
    Ok(())
}

fn tune_command(args: TuneArgs) -> anyhow::Result<()> {
    use fdlab::tune::{Input, TraceTruth, TuneConfig};
    let input = match (args.trace, args.experiment) {
        (Some(t), _) => Input::Trace(t),
        (None, Some(e)) => Input::Experiment(e),
        (None, None) => anyhow::bail!("give --trace TRACE.csv or --experiment EXP.toml"),
    };
    let path = match &input {
        Input::Trace(p) | Input::Experiment(p) => p.clone(),
    };
    let stem = path.file_stem().map_or("input".into(), |s| s.to_string_lossy().into_owned());
    let out = args.out.unwrap_or_else(|| Path::new("results").join(format!("tune-{stem}")));
    let truth =
        TraceTruth { crashes: args.crashes, monitor_crashes: args.monitor_crashes, pauses: args.pauses, end: args.end };
    let config = TuneConfig {
        input,
        truth,
        target: args.max_mistakes,
        detectors: args.detectors,
        objective: args.objective,
        per: args.per,
        seed: args.seed,
        allow_large: args.allow_large,
    };
    let file = fdlab::report::tune_dir::tune_to_dir(&config, &out)?;
    eprintln!("wrote {}", out.display());
    print_stdout(&file.table())
}

fn fit_command(args: FitArgs) -> anyhow::Result<()> {
    let out = args.out.unwrap_or_else(|| fdlab::fit::default_out_dir(&args.trace));
    let report = fdlab::fit::fit_to_dir(&args.trace, &out)?;
    eprintln!("wrote {} (simulate it: fdlab run {})", out.display(), out.join(fdlab::fit::EXPERIMENT_FILE).display());
    print_stdout(&report.table())
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
