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
            // (Mutation testing, equivalent: `>` for `<`. The rows are the replay's own, of
            // eight fields; the guard only keeps a malformed row from being indexed.)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::DetectorSpec;
    use crate::replay::CutDecl;

    /// A trace file of heartbeats every `every_ms` from 0 to `until_s`, from each target in
    /// `targets` to each of `monitors` (no monitor column when there are none), leaving out
    /// those `silent` says (target, time in ms) are not received.
    fn trace(
        dir: &std::path::Path,
        monitors: &[&str],
        targets: &[&str],
        every_ms: u64,
        until_s: u64,
        silent: impl Fn(&str, u64) -> bool,
    ) -> std::path::PathBuf {
        let monitor = !monitors.is_empty();
        let mut text = String::from(if monitor { "monitor,target,received_ns\n" } else { "target,received_ns\n" });
        for ms in (0..=until_s * 1000).step_by(every_ms as usize) {
            for t in targets.iter().filter(|t| !silent(t, ms)) {
                for m in if monitor { monitors } else { &[""][..] } {
                    let m = if monitor { format!("{m},") } else { String::new() };
                    text.push_str(&format!("{m}{t},{}\n", ms * 1_000_000));
                }
            }
        }
        let path = dir.join("t.csv");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn config(trace: std::path::PathBuf) -> ReplayConfig {
        ReplayConfig {
            trace,
            detectors: vec![DetectorSpec::parse("fixed:timeout=300ms").unwrap()],
            ..ReplayConfig::default()
        }
    }

    fn timeline(config: &ReplayConfig) -> Option<FaultTimeline> {
        let output = replay(config, None).unwrap();
        replay_timeline(config, &output).unwrap()
    }

    /// (kind, node, monitor, target, from, to, view from, view to), seconds.
    type View = (String, Option<String>, String, String, f64, Option<f64>, f64, f64);

    fn views(t: &FaultTimeline) -> Vec<View> {
        t.faults
            .iter()
            .enumerate()
            .map(|(i, f)| {
                assert_eq!(f.id, i);
                let s = |x: f64| (x * 1e3).round() / 1e3;
                (
                    f.kind.clone(),
                    f.node.clone(),
                    f.monitor.clone(),
                    f.target.clone(),
                    s(f.from_s),
                    f.to_s.map(s),
                    s(f.view_from_s),
                    s(f.view_to_s),
                )
            })
            .collect()
    }

    fn view(kind: &str, node: Option<&str>, link: (&str, &str), window: (f64, Option<f64>), shown: (f64, f64)) -> View {
        (kind.into(), node.map(String::from), link.0.into(), link.1.into(), window.0, window.1, shown.0, shown.1)
    }

    /// Every kind of declaration is viewed on the first link it touches, in time order, at
    /// most six: a crash or a pause of a watched node on a link watching it, a monitor's
    /// crash or a pause of a node nobody watches on a link it watches, a cut on the link it
    /// cuts. Each view is the window widened by 2 s, half the window or 20 heartbeat
    /// intervals, whichever is longest (here 50 ms: 2 s, or 3 s for the 6 s cut); a crash
    /// without recovery is viewed for two margins after it, up to the run's end (60 s).
    #[test]
    fn each_declared_fault_is_viewed_on_a_link_it_touches() {
        let dir = tempfile::tempdir().unwrap();
        let down = |t: &str, ms: u64| match t {
            "a" => (10_000..11_000).contains(&ms) || (58_500..59_000).contains(&ms),
            _ => (20_000..21_000).contains(&ms) || (48_000..54_000).contains(&ms) || ms >= 57_000,
        } || (40_000..41_000).contains(&ms);
        let mut c = config(trace(dir.path(), &["m"], &["a", "b"], 50, 60, down));
        let s = Nanos::from_secs;
        c.crashes = vec![CrashDecl::down("a", s(10), s(11)), CrashDecl::stop("b", s(57))];
        c.monitor_crashes = vec![CrashDecl::down("m", s(40), s(41))];
        c.pauses = vec![
            CrashDecl::down("b", s(20), s(21)),
            CrashDecl::down("m", s(30), s(31)),
            CrashDecl::down("a", Nanos::from_millis(58_500), s(59)),
        ];
        // Cut from b to m: the link m watching b (a cut from a would be m watching a).
        c.cuts = vec![CutDecl { from: "b".into(), to: "m".into(), at: s(48), until: s(54) }];
        let t = timeline(&c).expect("a timeline");
        let (ma, mb) = (("m", "a"), ("m", "b"));
        assert_eq!(
            views(&t),
            [
                view("crash", Some("a"), ma, (10.0, Some(11.0)), (8.0, 13.0)),
                view("pause", Some("b"), mb, (20.0, Some(21.0)), (18.0, 23.0)),
                view("monitor pause", Some("m"), ma, (30.0, Some(31.0)), (28.0, 33.0)),
                view("monitor crash", Some("m"), ma, (40.0, Some(41.0)), (38.0, 43.0)),
                view("partition", None, mb, (48.0, Some(54.0)), (45.0, 57.0)),
                // 57 s + 2 s + 2 s, cut at the run's end.
                view("crash", Some("b"), mb, (57.0, None), (55.0, 60.0)),
            ]
        );
        // The heartbeats on each view's link within its view, both ends included: 8 s to
        // 13 s without a's 10 s to 11 s is 40 + 41; b is cut from 48 s to 54 s (45 s to 57 s
        // is 60 + 60) and heard last at 56.95 s.
        let count = |id: usize| t.arrivals.iter().filter(|a| a.0 == id).count();
        assert_eq!((0..6).map(count).collect::<Vec<_>>(), [81, 81, 101, 81, 120, 40]);
        let within = |id: usize, from: u64, to: u64| {
            t.arrivals.iter().filter(|a| a.0 == id).all(|a| (s(from)..=s(to)).contains(&a.1))
        };
        assert!(within(0, 8, 13) && within(4, 45, 57) && within(5, 55, 57));
        assert!(t.arrivals.is_sorted());
        // 601 samples of each view (600 steps, both ends), on its link only.
        for (id, fv) in t.faults.iter().enumerate() {
            let levels: Vec<&LevelSample> = t.levels.iter().filter(|l| l.fault == Some(id)).collect();
            assert_eq!(levels.len(), 601, "view {id}");
            assert!(levels.iter().all(|l| l.monitor == fv.monitor && l.target == fv.target), "view {id}");
            assert!(levels.iter().all(|l| l.detector == "fixed:timeout=300ms" && l.threshold == 0.3));
            assert!(levels.iter().all(|l| l.suspected == (l.level >= l.threshold)), "view {id}");
        }
        // The crash of a: suspected from 300 ms after its last heartbeat (9.95 s) until its
        // next (11 s), and not before.
        let suspected = |t: &FaultTimeline, id: usize, at: f64| {
            let near = |l: &&LevelSample| l.at.0.abs_diff((at * 1e9) as u64);
            t.levels.iter().filter(|l| l.fault == Some(id)).min_by_key(near).unwrap().suspected
        };
        assert!(!suspected(&t, 0, 10.2) && suspected(&t, 0, 10.3) && suspected(&t, 0, 10.9) && !suspected(&t, 0, 11.1));
    }

    /// The run's end bounds a view (59 s + 2 s), and the heartbeat at the end itself is in it;
    /// a view shows its own link, not another monitor's of the same node.
    #[test]
    fn a_view_ends_at_the_end_of_the_run_with_its_last_heartbeat() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(trace(dir.path(), &["m", "n"], &["a"], 50, 60, |_, ms| (58_000..59_000).contains(&ms)));
        c.crashes = vec![CrashDecl::down("a", Nanos::from_secs(58), Nanos::from_secs(59))];
        let t = timeline(&c).expect("a timeline");
        assert_eq!(views(&t), [view("crash", Some("a"), ("m", "a"), (58.0, Some(59.0)), (56.0, 60.0))]);
        // 56 s to 58 s and 59 s to 60 s.
        assert_eq!(t.arrivals.len(), 40 + 21);
        assert_eq!(t.arrivals.last(), Some(&(0, Nanos::from_secs(60))));
        assert_eq!(t.levels.len(), 601);
        assert!(t.levels.iter().all(|l| l.monitor == "m" && l.target == "a"));
    }

    /// Without declarations the view is the longest silence between two heartbeats of one
    /// link (the first of equals), widened by 20 heartbeat intervals (here 200 ms: 4 s,
    /// more than 2 s or half the silence); a trace without a monitor column views it with
    /// no monitor.
    #[test]
    fn without_declarations_the_longest_silence_is_viewed() {
        let dir = tempfile::tempdir().unwrap();
        // a is silent from 5 s to 6.2 s and b from 8 s to 9.2 s: equally long.
        let silent = |t: &str, ms: u64| match t {
            "a" => ms > 5_000 && ms < 6_200,
            _ => ms > 8_000 && ms < 9_200,
        };
        let c = config(trace(dir.path(), &[], &["a", "b"], 200, 30, silent));
        let t = timeline(&c).expect("a timeline");
        let v = views(&t);
        assert_eq!(v.len(), 1);
        let (kind, node, monitor, target, from, to, view_from, view_to) = v[0].clone();
        assert_eq!((kind.as_str(), node, monitor.as_str(), target.as_str()), ("longest silence", None, "", "a"));
        assert_eq!((from, to), (5.0, Some(6.2)));
        // 20 median intervals: HdrHistogram's median of 200 ms is within 0.1 % of it.
        assert!((view_from - 1.0).abs() < 0.01 && (view_to - 10.2).abs() < 0.01, "{view_from} {view_to}");
        assert!(t.levels.iter().all(|l| l.monitor.is_empty() && l.target == "a"));
        assert_eq!(t.levels.len(), 601);
    }

    /// A trace that is not a regular file cannot be read again: no timeline.
    #[test]
    fn a_trace_that_cannot_be_read_again_has_no_timeline() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(trace(dir.path(), &["m"], &["a"], 100, 10, |_, _| false));
        let output = replay(&c, None).unwrap();
        let elsewhere = ReplayConfig { trace: dir.path().to_path_buf(), ..c.clone() };
        assert!(replay_timeline(&elsewhere, &output).unwrap().is_none());
        assert!(replay_timeline(&c, &output).unwrap().is_some());
    }
}
