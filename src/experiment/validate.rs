//! Validation: [`Experiment::check`] turns a parsed experiment into a [`ValidExperiment`], the
//! only kind the engines run (STYLE.md rule 11), or refuses it with an error naming the
//! field (`nodes[1].jitter`, `faults[2].at`).
//!
//! Each fault is checked on its own by [`FaultDecl::resolve`](crate::fault::FaultDecl::resolve),
//! which gives its checked shape; here the fault is named and what concerns several faults
//! (overlapping crashes or pauses of one node) is checked.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::schema::{Experiment, LinkSettings, MonitoringMode};
use super::{ExperimentError, ValidExperiment};
use crate::fault::{CrashSchedule, Fault, PauseSchedule};
use crate::time::{Clock, Nanos};

/// Monitored links beyond which an experiment is refused outright.
pub const MAX_LINKS: u64 = 50_000_000;

/// A field and what is wrong with it.
type Invalid = (String, String);

impl Experiment {
    /// Validates the experiment (filling in what a simulation knows, such as the heartbeat
    /// interval of sequence-aware detectors); `path` names it in errors. The engines run only
    /// what this returns, so a library user cannot run what the command line would refuse.
    pub fn check(mut self, path: &Path) -> Result<ValidExperiment, ExperimentError> {
        let invalid = |(field, message): Invalid| ExperimentError::Invalid { path: path.to_path_buf(), field, message };
        let faults = self.validate().map_err(invalid)?;
        self.fill_detector_intervals().map_err(invalid)?;
        Ok(ValidExperiment { experiment: self, faults })
    }

    /// Checks every field, in file order of sections; gives the checked faults.
    fn validate(&self) -> Result<Vec<Fault>, Invalid> {
        let err = |field: String, message: &str| Err((field, message.to_string()));
        if self.name.trim().is_empty()
            || self.name.contains(['/', '\\'])
            || self.name.chars().any(char::is_control)
            || self.name.len() > 255
            || matches!(self.name.as_str(), "." | "..")
        {
            return err(
                "name".into(),
                "must be a non-empty name without slashes or control characters, at most 255 bytes, and not `.` or \
                 `..` (it names the results directory)",
            );
        }
        if self.duration == Nanos::ZERO {
            return err("duration".into(), "must be greater than zero");
        }
        if self.duration > Nanos::LIMIT {
            return err("duration".into(), "must be at most 146 years (2^62 ns)");
        }
        if self.nodes.len() < 2 {
            return err("nodes".into(), "an experiment needs at least two nodes");
        }
        if self.monitored_link_count() > MAX_LINKS {
            return err(
                "monitoring".into(),
                &format!("{} monitored links; at most {MAX_LINKS} are supported", self.monitored_link_count()),
            );
        }
        let mut ids = BTreeSet::new();
        for (i, n) in self.nodes.iter().enumerate() {
            if n.id.is_empty() || n.id.contains([',', '"', '\n', '\r']) {
                return err(format!("nodes[{i}].id"), "must be non-empty, without commas, quotes or newlines");
            }
            if !ids.insert(n.id.as_str()) {
                return err(format!("nodes[{i}].id"), &format!("`{}` is declared twice", n.id));
            }
        }
        for (i, settings) in std::iter::once((None, &self.defaults))
            .chain(self.nodes.iter().enumerate().map(|(i, n)| (Some(i), &n.settings)))
        {
            let prefix = i.map_or("defaults".to_string(), |i| format!("nodes[{i}]"));
            if settings.interval == Some(Nanos::ZERO) {
                return err(format!("{prefix}.interval"), "must be greater than zero");
            }
            if settings.interval.is_some_and(|i| i > Nanos::LIMIT) {
                return err(format!("{prefix}.interval"), "must be at most 146 years (2^62 ns)");
            }
            if let Some(rate) = settings.clock_rate
                && Clock::from_rate(rate).is_none()
            {
                return err(format!("{prefix}.clock_rate"), "must be between 0.5 and 2 (a clock rate, 1 = exact)");
            }
        }
        for i in 0..self.nodes.len() {
            let node = self.node(i);
            if node.jitter >= node.interval {
                return err(format!("nodes[{i}].jitter"), "must be shorter than the heartbeat interval");
            }
        }
        let known = |id: &str| self.index_of(id).is_some();
        let unknown = |field: String, id: &str| Err((field, self.no_node(id)));
        match self.monitoring.mode {
            MonitoringMode::Pairs => {
                if self.monitoring.pairs.is_empty() {
                    return err("monitoring.pairs".into(), "mode `pairs` needs at least one [monitor, target] pair");
                }
                let mut seen = std::collections::BTreeMap::new();
                for (i, [m, t]) in self.monitoring.pairs.iter().enumerate() {
                    for id in [m, t] {
                        if !known(id) {
                            return unknown(format!("monitoring.pairs[{i}]"), id);
                        }
                    }
                    if m == t {
                        return err(format!("monitoring.pairs[{i}]"), "a node does not monitor itself");
                    }
                    if let Some(first) = seen.insert((m, t), i) {
                        return err(
                            format!("monitoring.pairs[{i}]"),
                            &format!("[{m:?}, {t:?}] is listed twice (also monitoring.pairs[{first}])"),
                        );
                    }
                }
            }
            MonitoringMode::Ring => {
                if self.monitoring.k == Some(0) {
                    return err("monitoring.k".into(), "must be at least 1");
                }
            }
            MonitoringMode::All => {}
        }
        validate_link(&self.network.model, "network")?;
        for (i, l) in self.network.links.iter().enumerate() {
            for id in [&l.from, &l.to] {
                if !known(id) {
                    return unknown(format!("network.links[{i}]"), id);
                }
            }
            validate_link(&l.settings, &format!("network.links[{i}]"))?;
        }
        let faults = self.validate_faults()?;
        let mut names = BTreeSet::new();
        for (i, w) in self.workloads.iter().enumerate() {
            w.validate(&self.node_ids(), self.duration)
                .map_err(|(field, message)| (format!("workloads[{i}].{field}"), message))?;
            if !names.insert(w.name.as_str()) {
                return err(format!("workloads[{i}].name"), &format!("`{}` is declared twice", w.name));
            }
        }
        if let Some(g) = &self.two_generals {
            g.validate().map_err(|(field, message)| (format!("two_generals.{field}"), message))?;
        }
        if self.detectors.is_empty() {
            return err("detectors".into(), "list at least one detector spec, e.g. \"phi:threshold=8\"");
        }
        if let Some(c) = &self.cluster {
            if c.rules().contains(&super::LeaderRule::Lease) && c.lease.is_none_or(|l| l == Nanos::ZERO) {
                return err(
                    "cluster.lease".into(),
                    "the `lease` rule needs a lease longer than zero, e.g. lease = \"4s\"",
                );
            }
            if c.downing_quorum == super::DowningQuorum::Count(0) {
                return err("cluster.downing_quorum".into(), "must be at least 1");
            }
            for (field, value) in [
                ("gossip_delay", Some(c.gossip_delay)),
                ("stable_after", Some(c.stable_after)),
                ("first_timeout", c.first_timeout),
                ("lease", c.lease),
                ("lease_margin", Some(c.lease_margin)),
            ] {
                if value.is_some_and(|v| v > Nanos::LIMIT) {
                    return err(format!("cluster.{field}"), "must be at most 146 years (2^62 ns)");
                }
            }
        }
        Ok(faults)
    }

    /// What is valid but probably not meant, one sentence each (printed by `validate` and
    /// `run`).
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(c) = &self.cluster
            && let Some(lease) = c.lease.filter(|_| c.rules().contains(&super::LeaderRule::Lease))
        {
            let slowest = (0..self.nodes.len()).map(|i| self.node(i).interval).max().unwrap_or(Nanos::ZERO);
            if lease <= slowest.saturating_add(slowest) {
                out.push(format!(
                    "cluster.lease: {lease} is not longer than two heartbeat intervals plus the delay (2 × {slowest} + \
                     delay): each heartbeat acknowledges the leader's previous one, so the lease lapses for a moment \
                     every interval"
                ));
            }
        }
        out
    }

    /// What an unknown node id gets told.
    fn no_node(&self, id: &str) -> String {
        format!("no node `{id}`; nodes are: {}", self.node_ids().join(", "))
    }

    /// Each fault in its checked shape, then the faults of each node together: crashes of a
    /// node never overlap, nor do its scheduled pauses.
    fn validate_faults(&self) -> Result<Vec<Fault>, Invalid> {
        let end = self.duration;
        let index: BTreeMap<&str, usize> = self.nodes.iter().enumerate().map(|(i, n)| (n.id.as_str(), i)).collect();
        let node = |id: &str| index.get(id).copied().ok_or_else(|| self.no_node(id));
        let faults = (self.faults.iter().enumerate())
            .map(|(i, f)| f.resolve(end, node).map_err(|(field, message)| (format!("faults[{i}].{field}"), message)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut crash_windows: Vec<Vec<(Nanos, Nanos)>> = vec![Vec::new(); self.nodes.len()];
        let mut pause_windows: Vec<Vec<(Nanos, Nanos)>> = vec![Vec::new(); self.nodes.len()];
        let mut lie_windows: Vec<Vec<(Nanos, Nanos)>> = vec![Vec::new(); self.nodes.len()];
        for f in &faults {
            match f {
                Fault::Crash { node, schedule: CrashSchedule::Once { at, down }, .. } => {
                    crash_windows[*node].push((*at, down.map_or(Nanos::MAX, |d| at.saturating_add(d))));
                }
                // A random process takes the whole run.
                Fault::Crash { node, schedule: CrashSchedule::Random { .. }, .. } => {
                    crash_windows[*node].push((Nanos::ZERO, end));
                }
                Fault::Pause { node, schedule: PauseSchedule::Once { at, duration }, .. } => {
                    pause_windows[*node].push((*at, at.saturating_add(*duration)));
                }
                Fault::Arbitrary { node, at, duration, .. } => {
                    lie_windows[*node].push((*at, duration.map_or(Nanos::MAX, |d| at.saturating_add(d))));
                }
                // Random pauses never overlap one another, and may overlap scheduled ones:
                // the timeline merges pause windows.
                Fault::Pause { schedule: PauseSchedule::Random { .. }, .. }
                | Fault::Partition { .. }
                | Fault::Omission { .. }
                | Fault::DelaySpike { .. }
                | Fault::LossBurst { .. }
                | Fault::DelayChange { .. } => {}
            }
        }
        let overlap = |windows: &mut Vec<(Nanos, Nanos)>| {
            windows.sort();
            windows.windows(2).any(|w| w[1].0 < w[0].1)
        };
        for (n, windows) in crash_windows.iter_mut().enumerate() {
            if overlap(windows) {
                return Err((
                    "faults".into(),
                    format!("crashes of node `{}` overlap (a node cannot crash while it is down)", self.nodes[n].id),
                ));
            }
        }
        for (n, windows) in pause_windows.iter_mut().enumerate() {
            if overlap(windows) {
                return Err((
                    "faults".into(),
                    format!("pauses of node `{}` overlap; merge them into one", self.nodes[n].id),
                ));
            }
        }
        for (n, windows) in lie_windows.iter_mut().enumerate() {
            if overlap(windows) {
                return Err((
                    "faults".into(),
                    format!(
                        "arbitrary faults of node `{}` overlap (a heartbeat carries one lie); split their windows",
                        self.nodes[n].id
                    ),
                ));
            }
        }
        Ok(faults)
    }

    /// Sequence-aware detectors need the sender's heartbeat interval; in a simulation it is
    /// known, so a spec without `interval` gets the common interval of the nodes.
    fn fill_detector_intervals(&mut self) -> Result<(), Invalid> {
        let intervals: BTreeSet<Nanos> = (0..self.nodes.len()).map(|i| self.node(i).interval).collect();
        for (i, spec) in self.detectors.iter_mut().enumerate() {
            if spec.missing().contains(&"interval") {
                match intervals.iter().collect::<Vec<_>>()[..] {
                    [one] => spec
                        .fill("interval", &one.to_string())
                        .map_err(|e| (format!("detectors[{i}]"), e.to_string()))?,
                    _ => {
                        return Err((
                            format!("detectors[{i}]"),
                            "nodes have different heartbeat intervals; give this detector `interval`".into(),
                        ));
                    }
                }
            }
            spec.require_complete().map_err(|e| (format!("detectors[{i}]"), e.to_string()))?;
        }
        match crate::detector::find_repeat(&self.detectors) {
            Some(r) => Err((format!("detectors[{}]", r.second), r.message(|i| format!("detectors[{i}]")))),
            None => Ok(()),
        }
    }
}

fn validate_link(s: &LinkSettings, prefix: &str) -> Result<(), Invalid> {
    if let Some(d) = &s.delay {
        d.validate().map_err(|m| (format!("{prefix}.delay"), m))?;
    }
    if let Some(l) = &s.loss {
        l.validate().map_err(|m| (format!("{prefix}.loss"), m))?;
    }
    if let Some(p) = s.duplicate
        && !(0.0..=1.0).contains(&p)
    {
        return Err((format!("{prefix}.duplicate"), "a probability must be in [0, 1]".into()));
    }
    if let Some(c) = s.correlation
        && !(0.0..1.0).contains(&c)
    {
        return Err((format!("{prefix}.correlation"), "must be in [0, 1)".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::{Cut, Links, PauseTarget};

    const GOOD: &str = "name = \"t\"\nseed = 1\nduration = \"1m\"\ndetectors = [\"phi\"]\n[[nodes]]\nid = \"a\"\n[[nodes]]\nid = \"b\"\n";

    fn check(text: &str) -> Result<ValidExperiment, ExperimentError> {
        toml::from_str::<Experiment>(text).expect("parses").check(Path::new("t.toml"))
    }

    /// The field an invalid experiment's error names, and its message.
    fn invalid(text: &str) -> (String, String) {
        match check(text) {
            Err(ExperimentError::Invalid { field, message, .. }) => (field, message),
            other => panic!("not refused as invalid: {other:?}\n{text}"),
        }
    }

    #[track_caller]
    fn refuses(text: &str, field: &str, needle: &str) {
        let (f, message) = invalid(text);
        assert_eq!(f, field, "{message}\n--- file:\n{text}");
        assert!(message.contains(needle), "`{needle}` not in `{message}`\n--- file:\n{text}");
    }

    #[test]
    fn errors_name_the_field_of_the_top_level_nodes_and_monitoring() {
        refuses(&GOOD.replace("name = \"t\"", "name = \"a/b\""), "name", "without slashes");
        refuses(&GOOD.replace("name = \"t\"", "name = \" \""), "name", "non-empty");
        refuses(&GOOD.replace("name = \"t\"", "name = \".\""), "name", "not `.` or `..`");
        refuses(&GOOD.replace("name = \"t\"", "name = \"..\""), "name", "not `.` or `..`");
        // A NUL cannot be in a file name; a newline or an escape would garble every message.
        for bad in ["a\\u0000b", "a\\nb", "\\u001b[31m"] {
            refuses(&GOOD.replace("name = \"t\"", &format!("name = \"{bad}\"")), "name", "control characters");
        }
        refuses(&GOOD.replace("name = \"t\"", &format!("name = \"{}\"", "n".repeat(256))), "name", "255 bytes");
        // 255 bytes (a file name's limit), in any letters, pass.
        for name in ["n".repeat(255), "é".repeat(127) + "n"] {
            let text = GOOD.replace("name = \"t\"", &format!("name = \"{name}\""));
            assert!(Experiment::from_toml("t.toml".as_ref(), &text).is_ok(), "{}", name.len());
        }
        refuses(&GOOD.replace("duration = \"1m\"", "duration = \"0\""), "duration", "greater than zero");
        refuses(&GOOD.replace("[[nodes]]\nid = \"b\"\n", ""), "nodes", "at least two nodes");
        refuses(&GOOD.replace("id = \"b\"", "id = \"a\""), "nodes[1].id", "`a` is declared twice");
        refuses(&GOOD.replace("id = \"b\"", "id = \"b,c\""), "nodes[1].id", "without commas");
        refuses(&format!("{GOOD}[defaults]\ninterval = \"0\"\n"), "defaults.interval", "greater than zero");
        refuses(&format!("{GOOD}interval = \"200000d\"\n"), "nodes[1].interval", "146 years");
        refuses(&format!("{GOOD}clock_rate = 3.0\n"), "nodes[1].clock_rate", "between 0.5 and 2");
        // Jitter is checked against the interval the node ends up with.
        refuses(&format!("{GOOD}[defaults]\njitter = \"100ms\"\n"), "nodes[0].jitter", "shorter than the heartbeat");
        refuses(
            &format!("{GOOD}interval = \"10ms\"\n[defaults]\njitter = \"50ms\"\ninterval = \"1s\"\n"),
            "nodes[1].jitter",
            "shorter",
        );
        refuses(&format!("{GOOD}[monitoring]\nmode = \"pairs\"\n"), "monitoring.pairs", "at least one");
        refuses(
            &format!("{GOOD}[monitoring]\nmode = \"pairs\"\npairs = [[\"a\", \"a\"]]\n"),
            "monitoring.pairs[0]",
            "itself",
        );
        refuses(
            &format!("{GOOD}[monitoring]\nmode = \"pairs\"\npairs = [[\"a\", \"b\"], [\"q\", \"a\"]]\n"),
            "monitoring.pairs[1]",
            "no node `q`; nodes are: a, b",
        );
        refuses(
            &format!(
                "{GOOD}[monitoring]\nmode = \"pairs\"\npairs = [[\"a\", \"b\"], [\"b\", \"a\"], [\"a\", \"b\"]]\n"
            ),
            "monitoring.pairs[2]",
            "[\"a\", \"b\"] is listed twice (also monitoring.pairs[0])",
        );
        refuses(&format!("{GOOD}[monitoring]\nmode = \"ring\"\nk = 0\n"), "monitoring.k", "at least 1");
        refuses(&GOOD.replace("detectors = [\"phi\"]", "detectors = []"), "detectors", "at least one");
    }

    /// Every limit is inclusive: 2^62 ns is accepted where 2^62 + 1 is refused.
    #[test]
    fn the_largest_durations_accepted_are_the_limit_itself() {
        let limit = Nanos::LIMIT.as_u64();
        let with = |d: u64, rest: &str| GOOD.replace("duration = \"1m\"", &format!("duration = \"{d}ns\"{rest}"));
        check(&with(limit, "")).unwrap();
        refuses(&with(limit + 1, ""), "duration", "146 years");
        let interval = |i: u64| format!("{GOOD}[defaults]\ninterval = \"{i}ns\"\n");
        check(&interval(limit)).unwrap();
        refuses(&interval(limit + 1), "defaults.interval", "146 years");
        for field in ["gossip_delay", "stable_after", "first_timeout", "lease", "lease_margin"] {
            let cluster = |d: u64| format!("{GOOD}[cluster]\n{field} = \"{d}ns\"\n");
            check(&cluster(limit)).unwrap();
            refuses(&cluster(limit + 1), &format!("cluster.{field}"), "146 years");
        }
    }

    #[test]
    fn the_cluster_section_is_checked() {
        refuses(&format!("{GOOD}[cluster]\nrules = [\"lease\"]\n"), "cluster.lease", "needs a lease longer than zero");
        refuses(
            &format!("{GOOD}[cluster]\nrules = [\"lease\"]\nlease = \"0\"\n"),
            "cluster.lease",
            "needs a lease longer than zero",
        );
        // Without the lease rule, no lease is needed.
        check(&format!("{GOOD}[cluster]\nrules = [\"majority\"]\n")).unwrap();
        // A file cannot say `downing_quorum = 0` (it does not parse); a library user can.
        let quorum = |n| {
            let mut e = toml::from_str::<Experiment>(&format!("{GOOD}[cluster]\n")).unwrap();
            e.cluster.as_mut().unwrap().downing_quorum = super::super::DowningQuorum::Count(n);
            e.check(Path::new("t.toml"))
        };
        assert!(matches!(quorum(0), Err(ExperimentError::Invalid { field, .. }) if field == "cluster.downing_quorum"));
        quorum(1).unwrap();
    }

    /// A lease of at most two heartbeat intervals (of the slowest node) lapses every interval.
    #[test]
    fn a_lease_too_short_for_the_heartbeats_is_warned_of() {
        let warnings = |lease: &str, rules: &str| {
            let text = format!(
                "{GOOD}interval = \"500ms\"\n[defaults]\ninterval = \"1s\"\n[cluster]\n{rules}lease = \"{lease}\"\n"
            );
            check(&text).unwrap().warnings()
        };
        let short = warnings("2s", "");
        assert_eq!(short.len(), 1, "{short:?}");
        assert!(
            short[0].starts_with("cluster.lease: 2s is not longer than two heartbeat intervals plus the delay (2 × 1s"),
            "{short:?}"
        );
        assert_eq!(warnings("2001ms", ""), Vec::<String>::new());
        // Without the lease rule the lease is not used.
        assert_eq!(warnings("1s", "rules = [\"majority\"]\n"), Vec::<String>::new());
        assert_eq!(check(GOOD).unwrap().warnings(), Vec::<String>::new());
    }

    #[test]
    fn arbitrary_faults_of_a_node_must_not_overlap() {
        let lie = |node: &str, at: &str| {
            format!(
                "[[faults]]\nkind = \"arbitrary\"\nnode = \"{node}\"\nat = \"{at}\"\nduration = \"2s\"\nseq = \"frozen\"\n"
            )
        };
        refuses(
            &format!("{GOOD}{}{}", lie("a", "10s"), lie("a", "11s")),
            "faults",
            "arbitrary faults of node `a` overlap",
        );
        // One without a duration lasts to the end.
        let forever = "[[faults]]\nkind = \"arbitrary\"\nnode = \"b\"\nat = \"5s\"\nseq = \"random\"\n";
        refuses(&format!("{GOOD}{forever}{}", lie("b", "30s")), "faults", "arbitrary faults of node `b` overlap");
        check(&format!("{GOOD}{}{}{}", lie("a", "10s"), lie("a", "12s"), lie("b", "11s"))).unwrap();
    }

    #[test]
    fn too_many_links_are_refused_before_any_is_listed() {
        let many: String = (0..7100).map(|i| format!("[[nodes]]\nid = \"n{i}\"\n")).collect();
        let text = format!("name = \"t\"\nseed = 1\nduration = \"1m\"\ndetectors = [\"phi\"]\n{many}");
        refuses(&text, "monitoring", "50402900 monitored links; at most 50000000");
        // Exactly the most: 10,000 nodes watched by 5,000 each.
        let many: String = (0..10_000).map(|i| format!("[[nodes]]\nid = \"n{i}\"\n")).collect();
        let text = format!(
            "name = \"t\"\nseed = 1\nduration = \"1m\"\ndetectors = [\"phi\"]\n[monitoring]\nmode = \"ring\"\nk = 5000\n{many}"
        );
        assert_eq!(check(&text).unwrap().monitored_link_count(), MAX_LINKS);
    }

    #[test]
    fn errors_name_the_field_of_the_network_and_its_overrides() {
        refuses(&format!("{GOOD}[network]\nduplicate = 1.5\n"), "network.duplicate", "[0, 1]");
        refuses(&format!("{GOOD}[network]\ncorrelation = 1.0\n"), "network.correlation", "[0, 1)");
        refuses(
            &format!("{GOOD}[network]\ndelay = {{ dist = \"uniform\", min = \"2ms\", max = \"1ms\" }}\n"),
            "network.delay",
            "`min` is above `max`",
        );
        let link = "[[network.links]]\nfrom = \"a\"\nto = \"b\"\n";
        refuses(
            &format!("{GOOD}{link}{link}loss = {{ model = \"bernoulli\", p = 2 }}\n"),
            "network.links[1].loss",
            "[0, 1]",
        );
        refuses(&format!("{GOOD}[[network.links]]\nfrom = \"a\"\nto = \"x\"\n"), "network.links[0]", "no node `x`");
    }

    #[test]
    fn fault_errors_name_the_fault_and_its_field() {
        let crash = "[[faults]]\nkind = \"crash\"\nnode = \"a\"\nat = \"1s\"\n";
        // The third fault, a crash that is both scheduled and random.
        refuses(
            &format!(
                "{GOOD}{crash}{crash}[[faults]]\nkind = \"crash\"\nnode = \"b\"\nat = \"1s\"\nmttf = \"1s\"\nmttr = \"1s\"\n"
            ),
            "faults[2].mttf",
            "a crash has `at` (with optional `down`) or `mttf` and `mttr` (random), not both",
        );
        refuses(
            &format!("{GOOD}[[faults]]\nkind = \"omission\"\nnode = \"c\"\np = 0.5\n"),
            "faults[0].node",
            "no node `c`; nodes are: a, b",
        );
        refuses(
            &format!("{GOOD}[[faults]]\nkind = \"pause\"\nnode = \"b\"\nat = \"1s\"\nevery = \"1s\"\n"),
            "faults[0].every",
            "not both",
        );
    }

    #[test]
    fn crashes_and_scheduled_pauses_of_a_node_must_not_overlap() {
        let crash = |node: &str, rest: &str| format!("[[faults]]\nkind = \"crash\"\nnode = \"{node}\"\n{rest}");
        let pause = |node: &str, at: &str| {
            format!("[[faults]]\nkind = \"pause\"\nnode = \"{node}\"\nat = \"{at}\"\nduration = \"2s\"\n")
        };
        // A crash-stop lasts to the end; a random process takes the whole run.
        refuses(
            &format!("{GOOD}{}{}", crash("a", "at = \"30s\"\n"), crash("a", "at = \"40s\"\n")),
            "faults",
            "crashes of node `a` overlap",
        );
        refuses(
            &format!(
                "{GOOD}{}{}",
                crash("b", "at = \"30s\"\ndown = \"1s\"\n"),
                crash("b", "mttf = \"10s\"\nmttr = \"1s\"\n")
            ),
            "faults",
            "crashes of node `b` overlap",
        );
        refuses(&format!("{GOOD}{}{}", pause("a", "10s"), pause("a", "11s")), "faults", "pauses of node `a` overlap");
        // Back to back, or on different nodes, is fine.
        check(&format!("{GOOD}{}{}", crash("a", "at = \"30s\"\ndown = \"10s\"\n"), crash("a", "at = \"40s\"\n")))
            .unwrap();
        check(&format!("{GOOD}{}{}{}", pause("a", "10s"), pause("a", "12s"), pause("b", "11s"))).unwrap();
        // Random pauses may overlap scheduled ones (the timeline merges them).
        let random = "[[faults]]\nkind = \"pause\"\nnode = \"a\"\nevery = \"5s\"\ndurations = { dist = \"constant\", value = \"3s\" }\n";
        check(&format!("{GOOD}{}{random}", pause("a", "10s"))).unwrap();
    }

    #[test]
    fn a_valid_experiment_holds_its_faults_checked_and_as_written() {
        let e = check(&format!(
            "{GOOD}[[faults]]\nkind = \"pause\"\nnode = \"b\"\nwhat = \"monitor\"\nat = \"5s\"\nduration = \"1s\"\n\
             [[faults]]\nkind = \"partition\"\nat = \"1s\"\nduration = \"1s\"\nfrom = [\"b\"]\nto = [\"a\"]\n\
             [[faults]]\nkind = \"delay-spike\"\nat = \"1s\"\nduration = \"1s\"\nextra = \"1s\"\n"
        ))
        .unwrap();
        assert_eq!(e.faults.len(), 3);
        assert_eq!(
            e.faults(),
            [
                Fault::Pause {
                    node: 1,
                    what: PauseTarget::Monitor,
                    schedule: PauseSchedule::Once { at: Nanos::from_secs(5), duration: Nanos::from_secs(1) }
                },
                Fault::Partition {
                    at: Nanos::from_secs(1),
                    duration: Nanos::from_secs(1),
                    cut: Cut::OneWay { from: vec![1], to: vec![0] }
                },
                Fault::DelaySpike {
                    at: Nanos::from_secs(1),
                    duration: Nanos::from_secs(1),
                    extra: Nanos::from_secs(1),
                    links: Links::Monitored
                },
            ]
        );
        // Taken apart and checked again, it is the same.
        let again = e.clone().into_inner().check(Path::new("t.toml")).unwrap();
        assert_eq!(again.faults(), e.faults());
    }

    #[test]
    fn sequence_aware_detectors_get_the_nodes_common_interval() {
        let chen = GOOD.replace("[\"phi\"]", "[\"chen:alpha=100ms\"]");
        assert_eq!(toml::from_str::<Experiment>(&chen).unwrap().detectors[0].missing(), ["interval"]);
        let e = check(&chen).unwrap();
        assert!(e.detectors[0].missing().is_empty());
        e.detectors[0].require_complete().unwrap();
        refuses(
            &GOOD
                .replace("[\"phi\"]", "[\"phi\", \"chen:alpha=100ms\"]")
                .replace("id = \"b\"", "id = \"b\"\ninterval = \"1s\""),
            "detectors[1]",
            "different heartbeat intervals",
        );
    }

    #[test]
    fn a_configuration_listed_twice_is_refused_naming_both() {
        let twice = GOOD.replace("[\"phi\"]", "[\"fixed:timeout=300ms\", \"fixed:timeout=0.3s\"]");
        refuses(&twice, "detectors[1]", "`fixed:timeout=300ms` is the same configuration as detectors[0]");
        let sweep = GOOD.replace("[\"phi\"]", "[{ kind = \"phi\", threshold = [4, 8, 4.0] }]");
        refuses(&sweep, "detectors[0]", "the sweep gives `phi:threshold=4` twice");
        // Labels are compared: every value as the number it is.
        let chen = GOOD.replace("[\"phi\"]", "[\"chen:alpha=100ms,interval=1s\", \"chen:alpha=0.1s,interval=1000ms\"]");
        refuses(&chen, "detectors[1]", "the same configuration as detectors[0]");
    }
}
