//! Cluster views of a run, whatever engine ran it: from the facts the engine observed and
//! the suspicion intervals its results carry, the figures of every detector configuration
//! and the leader timeline of the longest split-brain episode.

use std::collections::BTreeMap;

use super::heard::Heard;
use super::rules::Rule;
use super::rules::RuleFactory;
use super::timeline::LeaderTimeline;
use super::{
    Analysis, ClusterEntry, ClusterInput, FirstHeard, LinkSuspicions, analyze_recording, built_in, first_timeouts,
};
use crate::analysis::results::ResultEntry;
use crate::detector::DetectorSpec;
use crate::experiment::ClusterSettings;
use crate::time::{Clock, Nanos};

/// What an engine observed that cluster views need besides each link's suspicions.
#[derive(Clone, Debug, Default)]
pub struct ClusterFacts {
    /// Node names, by index.
    pub ids: Vec<String>,
    pub clocks: Vec<Clock>,
    /// Per node: crashed, whole-node paused and receive-paused windows (real time).
    pub crashed: Vec<Vec<(Nanos, Nanos)>>,
    pub paused: Vec<Vec<(Nanos, Nanos)>>,
    pub stalled: Vec<Vec<(Nanos, Nanos)>>,
    pub first_heard: FirstHeard,
    /// Every delivered heartbeat, when a rule reads them.
    pub heard: Heard,
    pub fault_starts: Vec<Nanos>,
    pub end: Nanos,
}

/// One detector configuration and its links' suspicion intervals (real time).
pub struct Configuration {
    pub detector: String,
    pub kind: String,
    pub knob: Option<String>,
    pub threshold: f64,
    pub suspicions: LinkSuspicions,
}

/// The configurations of `results` (in order), taking their suspicion intervals (which
/// are dropped from the results); `ids` names the nodes by index.
pub fn configurations(results: &mut [ResultEntry], ids: &[String]) -> Vec<Configuration> {
    let index: BTreeMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
    let mut out: Vec<Configuration> = Vec::new();
    for r in results.iter_mut() {
        let link = (index[r.monitor.as_deref().unwrap_or_default()], index[r.target.as_str()]);
        let suspicions = std::mem::take(&mut r.qos.suspicions);
        match out.iter_mut().find(|c| c.detector == r.detector) {
            Some(c) => {
                c.suspicions.insert(link, suspicions);
            }
            None => out.push(Configuration {
                detector: r.detector.clone(),
                kind: r.kind.clone(),
                knob: r.knob.clone(),
                threshold: r.threshold,
                suspicions: BTreeMap::from([(link, suspicions)]),
            }),
        }
    }
    out
}

/// One configuration's analysis under `rules` (made afresh by each call). With `threads` ≥ 2,
/// the rules that read heartbeats run on a thread of their own beside the others: a rule's
/// figures are its own (its beliefs, timers and episodes depend on the events and on it
/// alone), so they are the same either way.
fn analyze_configuration(
    input: &ClusterInput<'_>,
    rules: &(dyn Fn() -> Vec<Box<dyn Rule>> + Sync),
    threads: usize,
) -> Analysis {
    // (Mutation testing: `&&` here, and on the next line any other comparison of `threads`,
    // `&&` for either `||` or `r` for `!r`, are equivalent: they only decide which rules run
    // on the second thread, or whether there is one (a side may get no rule); each rule's
    // figures are its own, the downing does not depend on the rules, and
    // `tests/split_brain.rs` compares the figures on 1 and 8 threads.)
    let reads: Vec<bool> = rules().iter().map(|r| r.reads_heard() || r.reads_heartbeats()).collect();
    if threads < 2 || reads.iter().all(|&r| r) || reads.iter().all(|&r| !r) {
        return analyze_recording(input, rules(), None);
    }
    let pick = |reading: bool| -> Vec<Box<dyn Rule>> {
        rules().into_iter().zip(&reads).filter(|(_, r)| **r == reading).map(|(rule, _)| rule).collect()
    };
    let (mut views, mut reading) = std::thread::scope(|s| {
        let reading = s.spawn(|| analyze_recording(input, pick(true), None));
        let views = analyze_recording(input, pick(false), None);
        // Cannot fail unless the analysis panicked, which it does not.
        (views, reading.join().expect("the analysis of the rules that read heartbeats"))
    });
    // Back in the rules' order.
    let (mut figures, mut longest) = (Vec::new(), Vec::new());
    let (mut v, mut h) = (views.figures.drain(..).zip(views.longest), reading.figures.drain(..).zip(reading.longest));
    for r in reads {
        // Cannot fail: each side analysed as many rules as it was given.
        let (f, l) = if r { h.next() } else { v.next() }.expect("one result per rule");
        figures.push(f);
        longest.push(l);
    }
    Analysis { downing: views.downing, figures, longest, recorded: Vec::new() }
}

/// The cluster figures of every detector configuration, and the leader timeline of the
/// longest split-brain episode of any configuration and rule (the first, at a tie).
/// `threads`: how many the analysis may use.
pub fn cluster_views(
    facts: &ClusterFacts,
    settings: &ClusterSettings,
    detectors: &[DetectorSpec],
    extra_rules: &[RuleFactory],
    configurations: Vec<Configuration>,
    threads: usize,
) -> (Vec<ClusterEntry>, Option<LeaderTimeline>) {
    let ids = &facts.ids;
    let own_timeouts = first_timeouts(detectors);
    let input = |suspicions, detector: &str| ClusterInput {
        ids,
        clocks: &facts.clocks,
        crashed: &facts.crashed,
        paused: &facts.paused,
        stalled: &facts.stalled,
        suspicions,
        first_heard: &facts.first_heard,
        heard: &facts.heard,
        fault_starts: &facts.fault_starts,
        first_timeout: settings.first_timeout.or_else(|| own_timeouts.get(detector).copied().flatten()),
        settings,
        end: facts.end,
    };
    let rules = || {
        let mut rules = built_in(settings, ids.len());
        rules.extend(extra_rules.iter().map(|f| (f.0)(ids.len())));
        rules
    };
    // (configuration, rule, episode) of the longest split-brain episode.
    let mut longest: Option<(usize, usize, (Nanos, Nanos))> = None;
    let entries = configurations
        .iter()
        .enumerate()
        .map(|(c, conf)| {
            let a = analyze_configuration(&input(&conf.suspicions, &conf.detector), &rules, threads);
            for (r, episode) in a.longest.iter().enumerate() {
                if let Some(ep) = *episode
                    && longest.is_none_or(|(_, _, l)| ep.1 - ep.0 > l.1 - l.0)
                {
                    longest = Some((c, r, ep));
                }
            }
            ClusterEntry {
                detector: conf.detector.clone(),
                kind: conf.kind.clone(),
                knob: conf.knob.clone(),
                threshold: conf.threshold,
                downing: a.downing,
                rules: a.figures,
            }
        })
        .collect();
    let leaders = longest.map(|(c, r, episode)| {
        let Configuration { detector, suspicions, .. } = &configurations[c];
        let pad = Nanos((episode.1 - episode.0).max(Nanos::from_secs(4)).0 / 2);
        let window = (episode.0.saturating_sub(pad), episode.1.saturating_add(pad).min(facts.end));
        // Only the recorded rule, and only as far as the window (its instant included).
        let mut input = input(suspicions, detector);
        input.end = window.1.saturating_add(Nanos(1)).min(facts.end);
        let rule = rules().swap_remove(r);
        let a = analyze_recording(&input, vec![rule], Some((0, window.1)));
        super::timeline::build(detector, &a.figures[0].rule, ids, &a.recorded, window, episode)
    });
    (entries, leaders)
}
