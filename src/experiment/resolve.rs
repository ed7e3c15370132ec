//! Resolution: the schema's optional fields with their defaults applied, node by node
//! ([`Node`]: `[defaults]`, then the node's own settings) and link by link ([`Link`]:
//! `[network]`, then the last matching `[[network.links]]` override), and who monitors whom.
//!
//! These are what the engines read; the defaults written here are the ones the schema's doc
//! comments promise.

use std::collections::BTreeSet;

use super::ValidExperiment;
use super::schema::{AfterPause, Experiment, LinkSettings, MonitoringMode, SeqAfterRestart};
use crate::fault::delay::DelayModel;
use crate::fault::loss::LossModel;
use crate::time::{Clock, Nanos};

/// The heartbeat interval of a node that gives none.
const DEFAULT_INTERVAL: Nanos = Nanos::from_millis(100);
/// The one-way delay of a link that gives none.
const DEFAULT_DELAY: Nanos = Nanos::from_millis(1);
/// Monitors per node in a ring that gives no `k` (Akka's `monitored-by-nr-of-members`).
const DEFAULT_RING_K: usize = 5;

/// A node's settings with defaults applied.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub id: String,
    pub interval: Nanos,
    pub jitter: Nanos,
    pub clock: Clock,
    pub after_pause: AfterPause,
    pub seq_after_restart: SeqAfterRestart,
}

/// A link's model with defaults applied.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    pub delay: DelayModel,
    pub loss: LossModel,
    pub duplicate: f64,
    pub fifo: bool,
    pub correlation: f64,
}

impl Experiment {
    /// The node ids in file order.
    pub fn node_ids(&self) -> Vec<&str> {
        self.nodes.iter().map(|n| n.id.as_str()).collect()
    }

    /// A node's settings with defaults applied.
    pub fn node(&self, index: usize) -> Node {
        let d = &self.defaults;
        let s = &self.nodes[index].settings;
        Node {
            id: self.nodes[index].id.clone(),
            interval: s.interval.or(d.interval).unwrap_or(DEFAULT_INTERVAL),
            jitter: s.jitter.or(d.jitter).unwrap_or(Nanos::ZERO),
            // Cannot fail for a validated experiment; an unchecked rate reads as exact.
            clock: s.clock_rate.or(d.clock_rate).and_then(Clock::from_rate).unwrap_or(Clock::EXACT),
            after_pause: s.after_pause.or(d.after_pause).unwrap_or_default(),
            seq_after_restart: s.seq_after_restart.or(d.seq_after_restart).unwrap_or_default(),
        }
    }

    /// The index of the node called `id`, if there is one.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.id == id)
    }

    /// How many links are monitored, computed without listing them (validation refuses an
    /// experiment too large to list before anything is allocated for it).
    pub fn monitored_link_count(&self) -> u64 {
        let n = self.nodes.len() as u64;
        match self.monitoring.mode {
            MonitoringMode::All => n * n.saturating_sub(1),
            MonitoringMode::Ring => n * (self.ring_k() as u64).min(n.saturating_sub(1)),
            MonitoringMode::Pairs => {
                self.monitoring.pairs.iter().map(|[m, t]| (m, t)).collect::<BTreeSet<_>>().len() as u64
            }
        }
    }

    fn ring_k(&self) -> usize {
        self.monitoring.k.unwrap_or(DEFAULT_RING_K)
    }

    /// The model of the link from node `from` to node `to`, overrides applied (the last
    /// override of a link wins).
    pub fn link(&self, from: usize, to: usize) -> Link {
        let base = &self.network.model;
        let over = self
            .network
            .links
            .iter()
            .rev()
            .find(|l| l.from == self.nodes[from].id && l.to == self.nodes[to].id)
            .map(|l| &l.settings);
        fn pick<T>(
            over: Option<&LinkSettings>,
            base: &LinkSettings,
            f: impl Fn(&LinkSettings) -> Option<T>,
        ) -> Option<T> {
            over.and_then(&f).or_else(|| f(base))
        }
        Link {
            delay: pick(over, base, |s| s.delay.clone()).unwrap_or(DelayModel::Constant { value: DEFAULT_DELAY }),
            loss: pick(over, base, |s| s.loss.clone()).unwrap_or(LossModel::None),
            duplicate: pick(over, base, |s| s.duplicate).unwrap_or(0.0),
            fifo: pick(over, base, |s| s.fifo).unwrap_or(false),
            correlation: pick(over, base, |s| s.correlation).unwrap_or(0.0),
        }
    }
}

impl ValidExperiment {
    /// The monitored links as (monitor, target) node indices, sorted and without repeats.
    /// (Only for a checked experiment: its pairs name declared nodes, and there are few
    /// enough links to list.)
    pub fn monitored_links(&self) -> Vec<(usize, usize)> {
        let n = self.nodes.len();
        let mut links: BTreeSet<(usize, usize)> = BTreeSet::new();
        match self.monitoring.mode {
            MonitoringMode::All => {
                for m in 0..n {
                    for t in (0..n).filter(|&t| t != m) {
                        links.insert((m, t));
                    }
                }
            }
            MonitoringMode::Ring => {
                let k = self.ring_k().min(n.saturating_sub(1));
                for t in 0..n {
                    for step in 1..=k {
                        links.insert(((t + step) % n, t));
                    }
                }
            }
            MonitoringMode::Pairs => {
                for [m, t] in &self.monitoring.pairs {
                    // Cannot fail: validation checked every id.
                    links.insert((self.index_of(m).expect("validated"), self.index_of(t).expect("validated")));
                }
            }
        }
        links.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn parse(text: &str) -> Experiment {
        toml::from_str(text).expect("parses")
    }

    fn valid(text: &str) -> ValidExperiment {
        parse(text).check(Path::new("t.toml")).expect("valid")
    }

    const HEAD: &str = "name = \"t\"\nseed = 1\nduration = \"1m\"\ndetectors = [\"phi\"]\n";

    fn nodes(n: usize) -> String {
        (0..n).map(|i| format!("[[nodes]]\nid = \"n{i}\"\n")).collect()
    }

    #[test]
    fn a_node_without_settings_takes_the_documented_defaults() {
        let e = parse(&format!("{HEAD}{}", nodes(2)));
        assert_eq!(
            e.node(1),
            Node {
                id: "n1".into(),
                interval: Nanos::from_millis(100),
                jitter: Nanos::ZERO,
                clock: Clock::EXACT,
                after_pause: AfterPause::Skip,
                seq_after_restart: SeqAfterRestart::Reset,
            }
        );
    }

    #[test]
    fn a_node_setting_overrides_the_defaults_field_by_field() {
        let e = parse(&format!(
            "{HEAD}[defaults]\ninterval = \"1s\"\njitter = \"10ms\"\nclock_rate = 1.001\nafter_pause = \"send-now\"\n\
             [[nodes]]\nid = \"a\"\n[[nodes]]\nid = \"b\"\ninterval = \"250ms\"\nclock_rate = 0.999\n\
             seq_after_restart = \"continue\"\n"
        ));
        let a = e.node(0);
        assert_eq!(
            (a.interval, a.jitter, a.clock),
            (Nanos::from_secs(1), Nanos::from_millis(10), Clock::from_rate(1.001).unwrap())
        );
        assert_eq!((a.after_pause, a.seq_after_restart), (AfterPause::SendNow, SeqAfterRestart::Reset));
        let b = e.node(1);
        assert_eq!((b.interval, b.jitter), (Nanos::from_millis(250), Nanos::from_millis(10)));
        assert_eq!(b.clock, Clock::from_rate(0.999).unwrap());
        assert_eq!((b.after_pause, b.seq_after_restart), (AfterPause::SendNow, SeqAfterRestart::Continue));
    }

    #[test]
    fn a_link_takes_the_network_then_its_last_override_field_by_field() {
        let plain = parse(&format!("{HEAD}{}", nodes(2)));
        assert_eq!(
            plain.link(0, 1),
            Link {
                delay: DelayModel::Constant { value: Nanos::from_millis(1) },
                loss: LossModel::None,
                duplicate: 0.0,
                fifo: false,
                correlation: 0.0,
            }
        );
        let e = parse(&format!(
            "{HEAD}{}[network]\ndelay = {{ dist = \"constant\", value = \"5ms\" }}\nduplicate = 0.1\ncorrelation = 0.5\n\
             [[network.links]]\nfrom = \"n0\"\nto = \"n1\"\nfifo = true\nduplicate = 0.2\n\
             [[network.links]]\nfrom = \"n0\"\nto = \"n1\"\nloss = {{ model = \"bernoulli\", p = 0.5 }}\nduplicate = 0.3\n",
            nodes(3)
        ));
        let five = DelayModel::Constant { value: Nanos::from_millis(5) };
        // n0 → n1: the later override's loss and duplicate; its fifo from the earlier is not
        // merged in (the last override of a link is the one that counts), the rest from [network].
        assert_eq!(
            e.link(0, 1),
            Link {
                delay: five.clone(),
                loss: LossModel::Bernoulli { p: 0.5 },
                duplicate: 0.3,
                fifo: false,
                correlation: 0.5
            }
        );
        // The override is directed and names both ends: n1 → n0, n0 → n2 (the same sender),
        // n2 → n1 (the same receiver) and every other link take [network].
        let network = Link { delay: five, loss: LossModel::None, duplicate: 0.1, fifo: false, correlation: 0.5 };
        for (from, to) in [(1, 0), (0, 2), (2, 1), (2, 0)] {
            assert_eq!(e.link(from, to), network, "n{from} → n{to}");
        }
    }

    #[test]
    fn monitored_links_per_mode() {
        let all = valid(&format!("{HEAD}{}", nodes(3)));
        assert_eq!(all.monitored_links(), [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)]);
        assert_eq!(all.monitored_link_count(), 6);

        // Ring: node t is watched by the k nodes after it.
        let ring = valid(&format!("{HEAD}[monitoring]\nmode = \"ring\"\nk = 2\n{}", nodes(4)));
        assert_eq!(ring.monitored_links(), [(0, 2), (0, 3), (1, 0), (1, 3), (2, 0), (2, 1), (3, 1), (3, 2)]);
        assert_eq!(ring.monitored_link_count(), 8);
        // k at or beyond the other nodes is everyone; the default k is 5.
        let ring = valid(&format!("{HEAD}[monitoring]\nmode = \"ring\"\nk = 9\n{}", nodes(3)));
        assert_eq!(ring.monitored_links(), all.monitored_links());
        let ring = valid(&format!("{HEAD}[monitoring]\nmode = \"ring\"\n{}", nodes(8)));
        assert_eq!((ring.monitored_links().len(), ring.monitored_link_count()), (40, 40));

        // Pairs: as listed, sorted (a pair given twice is refused by validation).
        let pairs = valid(&format!(
            "{HEAD}[monitoring]\nmode = \"pairs\"\npairs = [[\"n2\", \"n0\"], [\"n0\", \"n1\"]]\n{}",
            nodes(3)
        ));
        assert_eq!(pairs.monitored_links(), [(0, 1), (2, 0)]);
        assert_eq!(pairs.monitored_link_count(), 2);
    }

    #[test]
    fn node_ids_and_indices_follow_the_file() {
        let e = parse(&format!("{HEAD}[[nodes]]\nid = \"z\"\n[[nodes]]\nid = \"a\"\n"));
        assert_eq!(e.node_ids(), ["z", "a"]);
        assert_eq!((e.index_of("a"), e.index_of("z"), e.index_of("q")), (Some(1), Some(0), None));
    }
}
