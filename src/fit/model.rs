//! The experiment a fit writes: every link of the trace as a monitored pair with its own
//! link override (delay, loss, duplication, FIFO, correlation), every target's interval and
//! jitter, its pauses as sender pauses, and a `description`/`question` saying where it came
//! from and where the model is weak. It is validated ([`Experiment::from_toml`]) before it
//! is written, so `fdlab validate` accepts it and `fdlab run` runs it.
//!
//! Empirical delays are written beside it (`delays/link-<i>.csv`, in the trace format the
//! simulator's empirical delay reads: received_ns − sent_ns is the delay).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use super::delay::DelayParams;
use super::loss::LossChoice;
use super::{FitReport, LinkFit};
use crate::experiment::Experiment;
use crate::time::Nanos;

/// A node id (or experiment name) from a trace's name: the characters an experiment refuses
/// (commas, quotes, line breaks, slashes) become `_`; an empty name becomes `monitor`.
pub fn node_id(name: &str) -> String {
    if name.is_empty() {
        return "monitor".into();
    }
    name.chars().map(|c| if matches!(c, ',' | '"' | '\n' | '\r' | '/' | '\\') { '_' } else { c }).collect()
}

/// A TOML string literal.
fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// A duration from seconds, to the nearest nanosecond, as experiment files write it.
fn duration(s: f64) -> String {
    quoted(&Nanos((s * 1e9).round().max(0.0) as u64).to_string())
}

/// A float TOML reads back as a float (`1.0`, not `1`).
fn float(x: f64) -> String {
    format!("{x:?}")
}

fn delay_table(params: &DelayParams, empirical_path: &str) -> String {
    match params {
        DelayParams::Constant { value_s } => format!("{{ dist = \"constant\", value = {} }}", duration(*value_s)),
        DelayParams::Normal { mean_s, sd_s, .. } => {
            format!("{{ dist = \"normal\", mean = {}, sd = {} }}", duration(*mean_s), duration(*sd_s))
        }
        DelayParams::Lognormal { base_s, median_s, sigma, .. } => format!(
            "{{ dist = \"lognormal\", median = {}, sigma = {}, base = {} }}",
            duration(*median_s),
            float(*sigma),
            duration(*base_s)
        ),
        DelayParams::Pareto { scale_s, shape, .. } => {
            format!("{{ dist = \"pareto\", scale = {}, shape = {} }}", duration(*scale_s), float(*shape))
        }
        DelayParams::Empirical { .. } => format!("{{ dist = \"empirical\", trace = {} }}", quoted(empirical_path)),
    }
}

fn loss_table(l: &LinkFit) -> String {
    match l.loss.chosen {
        LossChoice::None => "{ model = \"none\" }".into(),
        LossChoice::Bernoulli => format!("{{ model = \"bernoulli\", p = {} }}", float(l.loss.bernoulli.p)),
        LossChoice::Gilbert => format!(
            "{{ model = \"gilbert-elliott\", p = {}, r = {} }}",
            float(l.loss.gilbert.p),
            float(l.loss.gilbert.r)
        ),
    }
}

/// The files of the fitted model: `experiment.toml` (at `experiment`, whose directory is the
/// output directory) and any empirical delay files, as paths relative to that directory.
/// An error says why the experiment would not validate (a bug, or a trace name no node id
/// can carry).
pub fn experiment_files(report: &FitReport, experiment: &Path) -> Result<Vec<(PathBuf, Vec<u8>)>, String> {
    let mut files = Vec::new();
    // Node ids, in order of appearance, distinct.
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for l in &report.links {
        for name in [&l.target, &l.monitor] {
            if !ids.contains_key(name) {
                let base = node_id(name);
                let mut id = base.clone();
                let mut k = 2;
                while ids.values().any(|v| *v == id) {
                    id = format!("{base}-{k}");
                    k += 1;
                }
                ids.insert(name.clone(), id);
                order.push(name.clone());
            }
        }
    }
    let first = &report.links[0];
    let interval = |s: f64| Nanos((s * 1e9).round() as u64);
    let end = report.links.iter().map(|l| l.span_s + l.interval_s).fold(0.0, f64::max);
    // The span of the trace (its first heartbeat to one interval after its last), to the
    // nearest second, at least one.
    let duration_ns = (end.round().max(1.0) * 1e9) as u64;
    // Each weak note once, with the links it concerns, in the order first met.
    let mut weak: Vec<(String, Vec<String>)> = Vec::new();
    for l in &report.links {
        for n in l.notes.iter().filter(|n| n.weak) {
            let link = format!("{}→{}", ids[&l.monitor], ids[&l.target]);
            match weak.iter_mut().find(|(text, _)| *text == n.text) {
                Some((_, links)) => links.push(link),
                None => weak.push((n.text.clone(), vec![link])),
            }
        }
    }
    let weak: Vec<String> = weak.into_iter().map(|(text, links)| format!("{} ({})", text, links.join(", "))).collect();
    let trace_name = Path::new(&report.trace).file_name().map_or(report.trace.clone(), |f| f.to_string_lossy().into());
    let heartbeats: u64 = report.links.iter().map(|l| l.heartbeats).sum();

    let mut t = String::new();
    let _ = writeln!(
        t,
        "# Fitted by `fdlab fit {}` (fdlab {}); fit.json beside this file",
        report.trace, report.fdlab_version
    );
    let _ = writeln!(t, "# holds every estimate with its standard error and the KS distance of every candidate.");
    let _ = writeln!(t, "# Set `duration` to simulate longer than the trace (e.g. \"365d\"); replace the detectors.");
    for l in &report.links {
        for n in &l.notes {
            let _ =
                writeln!(t, "# {} {}: {}", if n.weak { "WEAK" } else { "note" }, l.target, n.text.replace('\n', " "));
        }
    }
    let _ = writeln!(t, "name = {}", quoted(&report.experiment_name));
    let _ = writeln!(
        t,
        "description = {}",
        quoted(&format!(
            "Network model fitted by fdlab fit from {trace_name} ({heartbeats} heartbeats on {} link{})",
            report.links.len(),
            if report.links.len() == 1 { "" } else { "s" }
        ))
    );
    let weakness = if weak.is_empty() {
        "The fit found no weakness: every estimate rests on enough data.".to_string()
    } else {
        format!("The model is weak where: {}", weak.join("; "))
    };
    let _ = writeln!(
        t,
        "question = {}",
        quoted(&format!(
            "How do detectors behave on the network recorded in {trace_name}, simulated from the model fitted to it? \
             {weakness}"
        ))
    );
    let _ = writeln!(t, "source = {}", quoted(&format!("fdlab fit {}", report.trace)));
    let _ = writeln!(t, "seed = {}", report.seed);
    let _ = writeln!(t, "duration = {}", quoted(&Nanos(duration_ns).to_string()));
    let timeout = Nanos((interval(first.interval_s).0 * 5).div_ceil(1_000_000) * 1_000_000);
    let _ = writeln!(t, "detectors = [\"phi:threshold=8\", \"fixed:timeout={timeout}\"]");
    let _ = writeln!(t, "receive = \"raw\"");
    let _ = writeln!(t, "\n[defaults]\ninterval = {}", quoted(&interval(first.interval_s).to_string()));
    for name in &order {
        let _ = writeln!(t, "\n[[nodes]]\nid = {}", quoted(&ids[name]));
        if let Some(l) = report.links.iter().find(|l| &l.target == name) {
            let _ = writeln!(t, "interval = {}", quoted(&interval(l.interval_s).to_string()));
            if let Some(j) = l.jitter_s {
                let _ = writeln!(t, "jitter = {}", duration(j));
            }
        }
    }
    let pairs: Vec<String> =
        report.links.iter().map(|l| format!("[{}, {}]", quoted(&ids[&l.monitor]), quoted(&ids[&l.target]))).collect();
    let _ = writeln!(t, "\n[monitoring]\nmode = \"pairs\"\npairs = [{}]", pairs.join(", "));
    for (i, l) in report.links.iter().enumerate() {
        let params = l.delay.candidates.iter().find(|c| c.chosen).and_then(|c| c.params.clone());
        let params = params.ok_or("no delay model was chosen")?;
        let empirical = format!("delays/link-{i}.csv");
        if matches!(params, DelayParams::Empirical { .. }) {
            let mut csv = String::from("target,received_ns,sent_ns\n");
            for d in &l.empirical_delays_ns {
                let _ = writeln!(csv, "d,{d},0");
            }
            files.push((PathBuf::from(&empirical), csv.into_bytes()));
        }
        let _ = writeln!(t, "\n[[network.links]]   # {} heartbeats, {} rows", l.heartbeats, l.rows);
        let _ = writeln!(t, "from = {}\nto = {}", quoted(&ids[&l.target]), quoted(&ids[&l.monitor]));
        let _ = writeln!(t, "delay = {}", delay_table(&params, &empirical));
        let _ = writeln!(t, "loss = {}", loss_table(l));
        if l.duplicate_rate > 0.0 {
            let _ = writeln!(t, "duplicate = {}", float(l.duplicate_rate));
        }
        let _ = writeln!(t, "fifo = {}", l.fifo);
        let _ = writeln!(t, "correlation = {}", float(l.autocorrelation.correlation));
    }
    // Pauses as sender pauses of their target, in the simulation's time (the link's first
    // heartbeat at 0), each starting half an interval after the last heartbeat before it and
    // lasting its silence less one interval; overlapping ones of one target merged.
    let mut windows: BTreeMap<&str, Vec<(u64, u64)>> = BTreeMap::new();
    for l in &report.links {
        for p in &l.pauses {
            let at = ((p.after_s - l.start_s + l.interval_s / 2.0) * 1e6).round() as u64 * 1000;
            let length = ((p.silence_s - l.interval_s) * 1e6).round().max(1.0) as u64 * 1000;
            windows.entry(ids[&l.target].as_str()).or_default().push((at, at + length));
        }
    }
    for (node, mut w) in windows {
        w.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::new();
        for (a, b) in w {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        // (Mutation testing, equivalent in practice: `<=`, which differs only for a pause
        // that begins exactly at the duration, to the microsecond: half an interval after a
        // heartbeat, itself before the last, where the span and an interval were rounded
        // down to that whole second.)
        for (a, b) in merged.into_iter().filter(|&(a, _)| a < duration_ns) {
            let _ = writeln!(
                t,
                "\n[[faults]]   # a pause seen in the trace\nkind = \"pause\"\nnode = {}\nwhat = \"sender\"\nat = {}\nduration = {}",
                quoted(node),
                quoted(&Nanos(a).to_string()),
                quoted(&Nanos(b - a).to_string())
            );
        }
    }
    Experiment::from_toml(experiment, &t).map_err(|e| format!("the fitted experiment does not validate: {e}"))?;
    files.insert(0, (PathBuf::from(super::EXPERIMENT_FILE), t.into_bytes()));
    Ok(files)
}
