//! The suspicion timeline of a replay: levels sampled around each declared fault, as the
//! simulator samples them around its injected ones, for the timeline chart
//! (`crate::report::charts::timeline`).
//!
//! The faults are the declarations (`--crash`, `--pause`, `--monitor-crash`, cuts), up to
//! six, each viewed on one link that it touches; a replay without any is viewed around its
//! longest silence, the place a detector is most likely to have suspected. Each view is
//! sampled [`SAMPLES_PER_VIEW`] times by a replay of its own over the same trace (a trace is
//! read once per view and once for the heartbeat ticks, so only a regular file can be
//! charted), exactly as in the one replay that measured the results. Live mode samples its
//! own faults through [`sample_views`].

use std::collections::BTreeSet;

use super::{CrashDecl, LevelSampler, ReplayConfig, ReplayError, replay};
use crate::analysis::output::{FaultTimeline, FaultView, LevelSample, RunOutput};
use crate::analysis::sampling::{DEFAULT_TARGET_PER_DAY, chosen_labels, sampled_labels};
use crate::fault::Window;
use crate::sim::SAMPLES_PER_VIEW;
use crate::time::Nanos;

/// At most this many faults are charted (the simulator's limit).
const MAX_VIEWS: usize = 6;

/// A fault to view: its kind, the node it happened to, the (monitor, target) link it is
/// viewed on, its window, and whether it lasts to the end (a crash-stop).
struct Candidate {
    kind: &'static str,
    node: Option<String>,
    link: (String, String),
    window: Window,
    forever: bool,
}

/// The timeline of a replay of `config` that gave `output`: `None` when the trace is not a
/// regular file (it cannot be read again) or shows no link.
pub fn replay_timeline(config: &ReplayConfig, output: &RunOutput) -> Result<Option<FaultTimeline>, ReplayError> {
    if !std::fs::metadata(&config.trace).is_ok_and(|m| m.is_file()) {
        return Ok(None);
    }
    let mut links: Vec<(String, String)> = Vec::new();
    for r in &output.summary.results {
        let link = (r.monitor.clone().unwrap_or_default(), r.target.clone());
        if !links.contains(&link) {
            links.push(link);
        }
    }
    if links.is_empty() {
        return Ok(None);
    }
    let end = Nanos::from_secs_f64(output.summary.run_end_s).max(config.end.unwrap_or(Nanos::ZERO));
    // The heartbeat interval, for the views' margins: the median inter-arrival time.
    let interval = output
        .interarrival
        .as_ref()
        .filter(|h| !h.is_empty())
        .map_or(Nanos::from_secs(1), |h| Nanos(h.value_at_quantile(0.5)));
    let mut candidates = declared(config, &links);
    if candidates.is_empty() {
        candidates.extend(longest_silence(config)?);
    }
    candidates.sort_by(|a, b| (a.window.from, &a.link).cmp(&(b.window.from, &b.link)));
    let views: Vec<(FaultView, Window)> = candidates
        .into_iter()
        .take(MAX_VIEWS)
        .enumerate()
        .map(|(id, c)| {
            let w = c.window;
            let pad = Nanos::from_secs(2)
                .max(Nanos(w.to.saturating_sub(w.from).0 / 2))
                .max(Nanos(interval.0.saturating_mul(20)));
            let to = if c.forever { w.from.saturating_add(pad).saturating_add(pad) } else { w.to.saturating_add(pad) };
            let view = Window { from: w.from.saturating_sub(pad), to: to.min(end) };
            let fv = FaultView {
                id,
                kind: c.kind.to_string(),
                node: c.node,
                monitor: c.link.0,
                target: c.link.1,
                from_s: w.from.as_secs_f64(),
                to_s: (!c.forever).then(|| w.to.as_secs_f64()),
                view_from_s: view.from.as_secs_f64(),
                view_to_s: view.to.as_secs_f64(),
            };
            (fv, view)
        })
        .collect();
    if views.is_empty() {
        return Ok(None);
    }
    let target = config.timeline_target_per_day.unwrap_or(DEFAULT_TARGET_PER_DAY);
    let shown = chosen_labels(&config.detectors, &output.summary.totals, target, &sampled_labels(&config.detectors));
    sample_views(config, views, &shown).map(Some)
}

/// The declared faults, each on the first link (in the summary's order) it touches.
fn declared(config: &ReplayConfig, links: &[(String, String)]) -> Vec<Candidate> {
    let watched = |node: &str| links.iter().find(|l| l.1 == node);
    let watching = |node: &str| links.iter().find(|l| l.0 == node);
    let window = |d: &CrashDecl| Window { from: d.from, to: d.to.unwrap_or(d.from) };
    let mut candidates = Vec::new();
    let mut push = |kind, d: &CrashDecl, link: Option<&(String, String)>| {
        if let Some(link) = link {
            let node = Some(d.node.clone()).filter(|n| !n.is_empty());
            candidates.push(Candidate { kind, node, link: link.clone(), window: window(d), forever: d.to.is_none() });
        }
    };
    for d in &config.crashes {
        push("crash", d, watched(&d.node));
    }
    for d in &config.monitor_crashes {
        push("monitor crash", d, watching(&d.node));
    }
    for d in &config.pauses {
        match watched(&d.node) {
            Some(link) => push("pause", d, Some(link)),
            None => push("monitor pause", d, watching(&d.node)),
        }
    }
    for c in &config.cuts {
        if let Some(link) = links.iter().find(|l| l.0 == c.to && l.1 == c.from) {
            let window = Window { from: c.at, to: c.until };
            candidates.push(Candidate { kind: "partition", node: None, link: link.clone(), window, forever: false });
        }
    }
    candidates
}

/// The longest time between two heartbeats of one link, as a fault to view.
fn longest_silence(config: &ReplayConfig) -> Result<Option<Candidate>, ReplayError> {
    let mut reader = config.open_trace()?;
    let mut last: std::collections::BTreeMap<(u32, u32), Nanos> = Default::default();
    let mut longest: Option<(Nanos, (u32, u32), Window)> = None;
    while let Some(row) = reader.next_row()? {
        let key = (row.monitor, row.target);
        if let Some(prev) = last.insert(key, row.arrival.at) {
            let gap = row.arrival.at - prev;
            if longest.as_ref().is_none_or(|l| gap > l.0) {
                longest = Some((gap, key, Window { from: prev, to: row.arrival.at }));
            }
        }
    }
    Ok(longest.map(|(_, (m, t), window)| Candidate {
        kind: "longest silence",
        node: None,
        link: (if reader.has_monitor() { reader.name(m) } else { "" }.to_string(), reader.name(t).to_string()),
        window,
        forever: false,
    }))
}

/// Samples the levels of the `sampled` configurations on each view's link (`monitor`,
/// `target`; the monitor empty for a trace without a `monitor` column) over its window, and
/// collects the heartbeats received there.
pub fn sample_views(
    config: &ReplayConfig,
    views: Vec<(FaultView, Window)>,
    sampled: &BTreeSet<String>,
) -> Result<FaultTimeline, ReplayError> {
    let bad = |message: String| ReplayError::Levels(std::io::Error::new(std::io::ErrorKind::InvalidData, message));
    let mut levels = Vec::new();
    for (fv, view) in &views {
        let step = Nanos((view.to.saturating_sub(view.from).0 / SAMPLES_PER_VIEW).max(1));
        let mut rows = Vec::new();
        let sampler = LevelSampler { every: step, out: &mut rows, from: view.from, until: Some(view.to) };
        replay(config, Some(sampler))?;
        let mut reader = csv::Reader::from_reader(&rows[..]);
        for record in reader.records() {
            let r = record.map_err(|e| bad(e.to_string()))?;
            if r.len() < 8 || r[2] != *fv.monitor || r[3] != *fv.target || !sampled.contains(&r[4]) {
                continue;
            }
            let number = |i: usize| r[i].parse::<f64>().map_err(|e| bad(format!("level row: {e}")));
            levels.push(LevelSample {
                fault: Some(fv.id),
                at: Nanos(r[1].parse().map_err(|e| bad(format!("level row: {e}")))?),
                monitor: r[2].to_string(),
                target: r[3].to_string(),
                detector: r[4].to_string(),
                level: number(5)?,
                threshold: number(6)?,
                suspected: &r[7] == "true",
            });
        }
    }
    let mut arrivals = Vec::new();
    let mut trace = config.open_trace()?;
    let last_view = views.iter().map(|(_, v)| v.to).max().unwrap_or(Nanos::ZERO);
    while let Some(row) = trace.next_row()? {
        let at = row.arrival.at;
        if at > last_view {
            break;
        }
        let monitor = if trace.has_monitor() { trace.name(row.monitor) } else { "" };
        for (fv, view) in &views {
            if at >= view.from && at <= view.to && monitor == fv.monitor && trace.name(row.target) == fv.target {
                arrivals.push((fv.id, at));
            }
        }
    }
    arrivals.sort();
    Ok(FaultTimeline { faults: views.into_iter().map(|(fv, _)| fv).collect(), levels, arrivals })
}
