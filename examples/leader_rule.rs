//! A leader rule of your own, measured beside the built-in ones.
//!
//! Implement `fdlab::analysis::cluster::rules::Rule`: the analysis feeds it every node's
//! events in time order and asks, after each instant, what each touched node believes (whom
//! it names, whether it leads). Hand a factory to `RunOptions::extra_rules` and every
//! cluster figure (split brain, leaderless time, failover, …) is computed for it too.
//!
//! This rule is "sticky": a node keeps the leader it has until it suspects it, then takes
//! the lowest id it does not suspect (no preemption by a returning lower id, as in many
//! hand-written elections). In the issue's first known answer (a paused leader a, 3 nodes)
//! the built-in rules split the brain for 0.51 s; the sticky rule never lets b give the lead
//! back, so a and b both lead from a's wake-up to the end.
//!
//! cargo run --release --example leader_rule

use std::path::Path;
use std::sync::Arc;

use fdlab::analysis::cluster::rules::{Belief, Cx, Rule};
use fdlab::experiment::Experiment;
use fdlab::sim::{RuleFactory, RunOptions, run};
use fdlab::time::Nanos;

/// Each node's current leader.
struct Sticky {
    leader: Vec<Option<usize>>,
}

impl Rule for Sticky {
    fn name(&self) -> String {
        "sticky".into()
    }

    fn start(&mut self, _cx: &Cx<'_>, x: usize, _at: Nanos) {
        self.leader[x] = None;
    }

    fn belief(&mut self, cx: &Cx<'_>, x: usize, _at: Nanos) -> Belief {
        let keep = self.leader[x].filter(|&l| !cx.suspects(x, l));
        let leader = keep.unwrap_or_else(|| cx.candidate(x));
        self.leader[x] = Some(leader);
        Belief { names: Some(leader), leads: leader == x }
    }
}

const EXPERIMENT: &str = r#"
name = "sticky"
seed = 1
duration = "40s"
detectors = ["fixed:timeout=3s"]
[defaults]
interval = "1s"
[[nodes]]
id = "a"
[[nodes]]
id = "b"
[[nodes]]
id = "c"
[monitoring]
mode = "all"
[network]
delay = { dist = "constant", value = "10ms" }
[cluster]
rules = ["lowest-unsuspected", "majority"]
[[faults]]
kind = "pause"
node = "a"
what = "node"
at = "10500ms"
duration = "5s"
"#;

fn main() -> anyhow::Result<()> {
    let e = Experiment::from_toml(Path::new("sticky.toml"), EXPERIMENT)?;
    let sticky = RuleFactory(Arc::new(|n| Box::new(Sticky { leader: vec![None; n] })));
    let options = RunOptions { extra_rules: vec![sticky], ..RunOptions::default() };
    let out = run(&e, &options, &|_| {})?;
    print!("{}", out.summary.cluster_table());
    let figures = &out.summary.cluster[0].rules;
    let split = |name: &str| figures.iter().find(|f| f.rule == name).map(|f| f.split_brain_s);
    // The built-in rules heal when a's next heartbeat arrives; the sticky rule never does.
    anyhow::ensure!(split("lowest-unsuspected") == Some(0.51), "{figures:?}");
    anyhow::ensure!(split("sticky") == Some(40.0 - 15.5), "{figures:?}");
    Ok(())
}
