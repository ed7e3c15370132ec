//! What a fault is, twice: as an experiment file declares it ([`FaultDecl`], a `[[faults]]`
//! table as written, where a crash's `at` and `mttf` are both optional) and in the shape it
//! really has once checked ([`Fault`]: a crash happens once or is drawn from a random
//! process, never both, and names resolved to node indices).
//!
//! [`FaultDecl::resolve`] turns one into the other and checks everything that concerns one
//! fault alone, naming the field (`at`, `mttr`); the experiment's validation names the fault
//! (`faults[2].at`) and checks what concerns several (overlapping crashes). The declaration
//! is what `summary.json` records, so the file a user wrote is what the results show; the
//! checked shape is what [`super::Timeline::build`] expands, with nothing left to assume.

use serde::{Deserialize, Serialize};

use super::delay::DelayModel;
use crate::time::Nanos;

/// The most events a random fault process may be expected to draw over a run.
pub const MAX_RANDOM_EVENTS: u64 = 1_000_000;

/// What a pause stops.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum PauseTarget {
    /// The whole process: it neither sends nor processes (a GC pause, SIGSTOP).
    #[default]
    Node,
    /// Only its heartbeat sending (e.g. a starved sender thread).
    Sender,
    /// Only its receiving and checking (a stalled monitor).
    Monitor,
}

impl PauseTarget {
    /// Whether the pause stops the node's heartbeats.
    pub fn stops_sending(self) -> bool {
        matches!(self, PauseTarget::Node | PauseTarget::Sender)
    }

    /// Whether the pause stops the node's receiving and checking.
    pub fn stops_receiving(self) -> bool {
        matches!(self, PauseTarget::Node | PauseTarget::Monitor)
    }
}

/// What an arbitrary (Byzantine) node puts in its heartbeats' sequence numbers.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SeqLie {
    /// The true slot number.
    #[default]
    Honest,
    /// Every heartbeat carries the number of the window's first one (a stuck counter).
    Frozen,
    /// The numbers it sent earlier in its incarnation, from the first, cycling (a replay of
    /// old heartbeats, a state restored from a stale snapshot): every one already sent. A
    /// window that begins before any has been sent repeats its first number.
    ReplayOld,
    /// A uniform draw from [0, 2^32) per heartbeat (a garbled 32-bit counter field).
    Random,
}

/// What an arbitrary node puts in its heartbeats' incarnation numbers.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum IncarnationLie {
    /// Its true incarnation.
    #[default]
    Honest,
    /// One above its true incarnation: it claims a restart that never happened.
    Bump,
}

/// The lies of an arbitrary node's heartbeats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lie {
    pub seq: SeqLie,
    pub incarnation: IncarnationLie,
}

/// A fault as an experiment file declares it, scheduled at a fixed time or drawn from a
/// random process. [`FaultDecl::resolve`] checks it.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum FaultDecl {
    /// Crash-stop (`at` only), crash-recovery (`at` and `down`), or a random process of
    /// crashes and recoveries (`mttf` and `mttr`, exponential).
    Crash {
        node: String,
        at: Option<Nanos>,
        down: Option<Nanos>,
        mttf: Option<Nanos>,
        mttr: Option<Nanos>,
        /// A recovered process announces a new incarnation (default true). Without one, it
        /// numbers heartbeats from 0 again in the old incarnation, which a `drop-stale`
        /// receiver ignores.
        #[serde(default = "yes")]
        new_incarnation: bool,
    },
    /// A pause at `at` for `duration`, or a random process: pauses every `every` on average
    /// (exponential) lasting `durations` (a distribution).
    Pause {
        node: String,
        #[serde(default)]
        what: PauseTarget,
        at: Option<Nanos>,
        duration: Option<Nanos>,
        every: Option<Nanos>,
        durations: Option<DelayModel>,
    },
    /// Cuts links for a window: between every pair of `groups` (symmetric), or from every
    /// node of `from` to every node of `to` (one-way).
    Partition {
        at: Nanos,
        duration: Nanos,
        #[serde(default)]
        groups: Vec<Vec<String>>,
        #[serde(default)]
        from: Vec<String>,
        #[serde(default)]
        to: Vec<String>,
    },
    /// A live node drops a share `p` of its own outgoing heartbeats, from `at` (default 0)
    /// for `duration` (default: to the end).
    Omission { node: String, p: f64, at: Option<Nanos>, duration: Option<Nanos> },
    /// Arbitrary (Byzantine) heartbeats: from `at` (default 0) for `duration` (default: to
    /// the end), every heartbeat the node sends, on its usual schedule, carries a bogus
    /// sequence number (`seq`) and/or incarnation (`incarnation`), both `honest` by default.
    Arbitrary {
        node: String,
        at: Option<Nanos>,
        duration: Option<Nanos>,
        #[serde(default)]
        seq: SeqLie,
        #[serde(default)]
        incarnation: IncarnationLie,
    },
    /// Congestion: `extra` delay for datagrams sent in the window, on `links` (default all).
    DelaySpike {
        at: Nanos,
        duration: Nanos,
        extra: Nanos,
        #[serde(default)]
        links: Vec<[String; 2]>,
    },
    /// Congestion: datagrams sent in the window are also lost with probability `p`.
    LossBurst {
        at: Nanos,
        duration: Nanos,
        p: f64,
        #[serde(default)]
        links: Vec<[String; 2]>,
    },
    /// A route change: datagrams sent on `links` (default all monitored) from `at` on draw
    /// their one-way delay from `delay` instead of the link's model, until the next change of
    /// the link. The link's `correlation` carries across the change.
    DelayChange {
        at: Nanos,
        delay: DelayModel,
        #[serde(default)]
        links: Vec<[String; 2]>,
    },
}

fn yes() -> bool {
    true
}

/// A checked fault: only the shapes a fault can really take, nodes as indices into the
/// experiment's node list, every instant inside the run.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// The node stops: sends nothing, receives nothing, and forgets what it held.
    Crash { node: usize, schedule: CrashSchedule, new_incarnation: bool },
    /// The node, its sender or its monitor stalls, alive.
    Pause { node: usize, what: PauseTarget, schedule: PauseSchedule },
    /// Links cut from `at` for `duration`.
    Partition { at: Nanos, duration: Nanos, cut: Cut },
    /// The node drops a share `p` of its own heartbeats, from `at` for `duration` (`None`:
    /// to the end of the run).
    Omission { node: usize, p: f64, at: Nanos, duration: Option<Nanos> },
    /// The node's heartbeats sent from `at` for `duration` (`None`: to the end of the run)
    /// carry the numbers `lie` says (at least one of them bogus).
    Arbitrary { node: usize, at: Nanos, duration: Option<Nanos>, lie: Lie },
    /// `extra` delay for datagrams sent on `links` from `at` for `duration`.
    DelaySpike { at: Nanos, duration: Nanos, extra: Nanos, links: Links },
    /// Datagrams sent on `links` from `at` for `duration` are also lost with probability `p`.
    LossBurst { at: Nanos, duration: Nanos, p: f64, links: Links },
    /// Datagrams sent on `links` from `at` on take their delay from `delay`.
    DelayChange { at: Nanos, delay: DelayModel, links: Links },
}

/// When a node crashes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashSchedule {
    /// Down at `at`, for `down` (crash-recovery) or for ever (`None`: crash-stop).
    Once { at: Nanos, down: Option<Nanos> },
    /// From the start, up for Exp(`mttf`) and down for Exp(`mttr`), again and again.
    Random { mttf: Nanos, mttr: Nanos },
}

/// When a node pauses.
#[derive(Clone, Debug, PartialEq)]
pub enum PauseSchedule {
    /// Paused from `at` for `duration`.
    Once { at: Nanos, duration: Nanos },
    /// From the start, running for Exp(`every`) and paused for a draw of `durations`, again
    /// and again.
    Random { every: Nanos, durations: DelayModel },
}

/// Which links a partition cuts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cut {
    /// Every link between nodes of two different groups, both ways.
    Groups(Vec<Vec<usize>>),
    /// Every link from a node of `from` to a node of `to`.
    OneWay { from: Vec<usize>, to: Vec<usize> },
}

/// The links a delay spike or loss burst touches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Links {
    /// Every monitored link, target to monitor (the others carry no heartbeats).
    Monitored,
    /// These (from, to) links.
    Listed(Vec<(usize, usize)>),
}

const CRASH_SHAPE: &str = "a crash has `at` (with optional `down`) or `mttf` and `mttr` (random), not both";
const PAUSE_SHAPE: &str = "a pause has `at` and `duration` or `every` and `durations` (random), not both";

impl FaultDecl {
    /// Checks the fault on its own and gives its checked shape. `end` is the run's duration;
    /// `node` finds a node's index by id (its error says which ids exist). An error names
    /// the field (`at`, `mttr`) and what is wrong with it.
    pub fn resolve(
        &self,
        end: Nanos,
        node: impl Fn(&str) -> Result<usize, String>,
    ) -> Result<Fault, (&'static str, String)> {
        let node_in = |field: &'static str, id: &str| node(id).map_err(|m| (field, m));
        let shape = |field: &'static str, message: &str| Err((field, message.to_string()));
        // Every instant a fault gives is within the run: one at or after the end would never
        // happen, a mistake in the file rather than a fault to ignore.
        let within = |at: Nanos, field: &'static str| {
            if at >= end { Err((field, format!("is at or after the end of the run ({end})"))) } else { Ok(at) }
        };
        let length = |d: Nanos, field: &'static str| {
            if d == Nanos::ZERO {
                Err((field, "must be greater than zero".to_string()))
            } else if d > Nanos::LIMIT {
                Err((field, "must be at most 146 years (2^62 ns)".to_string()))
            } else {
                Ok(d)
            }
        };
        let probability = |p: f64, field: &'static str| {
            if (0.0..=1.0).contains(&p) { Ok(p) } else { Err((field, "a probability must be in [0, 1]".to_string())) }
        };
        // A random process is drawn in full before the run: refuse one that would draw more
        // events than any run needs, rather than run out of memory drawing them.
        let random_events = |up: Nanos, down: Nanos, field: &'static str| {
            let expected = end.0 as u128 / (up.0 as u128 + down.0 as u128).max(1);
            if expected > MAX_RANDOM_EVENTS as u128 {
                return Err((
                    field,
                    format!(
                        "draws about {expected} events over the run ({end}); at most {MAX_RANDOM_EVENTS} are \
                         supported: make the mean time between them longer"
                    ),
                ));
            }
            Ok(())
        };
        let links = |list: &[[String; 2]]| -> Result<Links, (&'static str, String)> {
            if list.is_empty() {
                return Ok(Links::Monitored);
            }
            let mut seen = std::collections::BTreeSet::new();
            let mut listed = Vec::new();
            for [a, b] in list {
                let link = (node_in("links", a)?, node_in("links", b)?);
                if link.0 == link.1 {
                    return Err((
                        "links",
                        format!("[`{a}`, `{b}`] is no link: a node's messages to itself cross none"),
                    ));
                }
                if !seen.insert(link) {
                    return Err(("links", format!("[`{a}`, `{b}`] is listed twice; once is enough")));
                }
                listed.push(link);
            }
            Ok(Links::Listed(listed))
        };
        match self {
            FaultDecl::Crash { node: id, at, down, mttf, mttr, new_incarnation } => {
                let node = node_in("node", id)?;
                let schedule = match (*at, *down, *mttf, *mttr) {
                    (Some(at), down, None, None) => CrashSchedule::Once {
                        at: within(at, "at")?,
                        down: down.map(|d| length(d, "down")).transpose()?,
                    },
                    (None, None, Some(mttf), Some(mttr)) => {
                        length(mttf, "mttf")?;
                        length(mttr, "mttr")?;
                        random_events(mttf, mttr, "mttf")?;
                        CrashSchedule::Random { mttf, mttr }
                    }
                    (Some(_), _, Some(_), _) => return shape("mttf", CRASH_SHAPE),
                    (Some(_), _, None, Some(_)) => return shape("mttr", CRASH_SHAPE),
                    (None, Some(_), Some(_), _) | (None, Some(_), _, Some(_)) => return shape("down", CRASH_SHAPE),
                    (None, _, Some(_), None) => return shape("mttr", "a random crash process needs `mttf` and `mttr`"),
                    (None, _, None, Some(_)) => return shape("mttf", "a random crash process needs `mttf` and `mttr`"),
                    (None, _, None, None) => {
                        return shape(
                            "at",
                            "give either `at` (scheduled, with optional `down`) or `mttf` and `mttr` (random)",
                        );
                    }
                };
                Ok(Fault::Crash { node, schedule, new_incarnation: *new_incarnation })
            }
            FaultDecl::Pause { node: id, what, at, duration, every, durations } => {
                let node = node_in("node", id)?;
                if at.is_some() || duration.is_some() {
                    if every.is_some() {
                        return shape("every", PAUSE_SHAPE);
                    }
                    if durations.is_some() {
                        return shape("durations", PAUSE_SHAPE);
                    }
                }
                let schedule = match (*at, *duration, *every, durations) {
                    (Some(at), Some(d), _, _) => {
                        PauseSchedule::Once { at: within(at, "at")?, duration: length(d, "duration")? }
                    }
                    (_, _, Some(every), Some(model)) => {
                        length(every, "every")?;
                        random_events(every, Nanos::ZERO, "every")?;
                        model.validate().map_err(|m| ("durations", m))?;
                        PauseSchedule::Random { every, durations: model.clone() }
                    }
                    (Some(_), None, ..) => return shape("duration", "a pause at `at` needs a `duration`"),
                    (None, Some(_), ..) => return shape("at", "a pause of `duration` needs `at`, when it starts"),
                    (None, None, Some(_), None) => {
                        return shape("durations", "a random pause process needs `every` and `durations`");
                    }
                    (None, None, None, Some(_)) => {
                        return shape("every", "a random pause process needs `every` and `durations`");
                    }
                    (None, None, None, None) => {
                        return shape("at", "give `at` and `duration` (scheduled) or `every` and `durations` (random)");
                    }
                };
                Ok(Fault::Pause { node, what: *what, schedule })
            }
            FaultDecl::Partition { at, duration, groups, from, to } => {
                within(*at, "at")?;
                length(*duration, "duration")?;
                let ids = |field: &'static str, list: &[String]| -> Result<Vec<usize>, (&'static str, String)> {
                    list.iter().map(|id| node_in(field, id)).collect()
                };
                // Each node once: in one group, or on one side of a one-way cut (a node's
                // messages to itself are on no link). Checked after every id is known.
                let once = |field: &'static str, lists: &[&[usize]], names: &[&[String]], what: &str| {
                    let mut seen = std::collections::BTreeSet::new();
                    let mut all = lists.iter().zip(names).flat_map(|(l, n)| l.iter().zip(n.iter()));
                    match all.find(|(id, _)| !seen.insert(**id)) {
                        Some((_, name)) => Err((field, format!("node `{name}` is listed twice ({what})"))),
                        None => Ok(()),
                    }
                };
                let cut = match (groups.is_empty(), from.is_empty(), to.is_empty()) {
                    (false, true, true) if groups.len() < 2 => {
                        return shape("groups", "a partition needs at least two groups");
                    }
                    (false, true, true) if groups.iter().any(Vec::is_empty) => {
                        return shape("groups", "a group is empty; each group holds at least one node");
                    }
                    (false, true, true) => {
                        let ids: Vec<Vec<usize>> = groups.iter().map(|g| ids("groups", g)).collect::<Result<_, _>>()?;
                        let lists: Vec<&[usize]> = ids.iter().map(Vec::as_slice).collect();
                        let names: Vec<&[String]> = groups.iter().map(Vec::as_slice).collect();
                        once("groups", &lists, &names, "a node is in one group")?;
                        Cut::Groups(ids)
                    }
                    (true, false, false) => {
                        let (f, t) = (ids("from", from)?, ids("to", to)?);
                        once("from", &[&f], &[from], "once is enough")?;
                        once("to", &[&t], &[to], "once is enough")?;
                        once(
                            "to",
                            &[&f, &t],
                            &[from, to],
                            "in `from` and in `to`; a node's messages to itself cross no link",
                        )?;
                        Cut::OneWay { from: f, to: t }
                    }
                    (true, true, false) => return shape("from", "a one-way partition needs `from` as well as `to`"),
                    (true, false, true) => return shape("to", "a one-way partition needs `to` as well as `from`"),
                    _ => return shape("groups", "give `groups` (symmetric) or both `from` and `to` (one-way)"),
                };
                Ok(Fault::Partition { at: *at, duration: *duration, cut })
            }
            FaultDecl::Omission { node: id, p, at, duration } => Ok(Fault::Omission {
                node: node_in("node", id)?,
                p: probability(*p, "p")?,
                at: at.map(|at| within(at, "at")).transpose()?.unwrap_or(Nanos::ZERO),
                duration: duration.map(|d| length(d, "duration")).transpose()?,
            }),
            FaultDecl::Arbitrary { node: id, at, duration, seq, incarnation } => {
                let node = node_in("node", id)?;
                let lie = Lie { seq: *seq, incarnation: *incarnation };
                if lie == Lie::default() {
                    return shape(
                        "seq",
                        "an arbitrary node with an honest `seq` and `incarnation` lies about nothing: give \
                         `seq = \"frozen\" | \"replay-old\" | \"random\"` or `incarnation = \"bump\"`",
                    );
                }
                Ok(Fault::Arbitrary {
                    node,
                    at: at.map(|at| within(at, "at")).transpose()?.unwrap_or(Nanos::ZERO),
                    duration: duration.map(|d| length(d, "duration")).transpose()?,
                    lie,
                })
            }
            FaultDecl::DelaySpike { at, duration, extra, links: list } => {
                within(*at, "at")?;
                length(*duration, "duration")?;
                if *extra > Nanos::LIMIT {
                    return shape("extra", "must be at most 146 years (2^62 ns)");
                }
                Ok(Fault::DelaySpike { at: *at, duration: *duration, extra: *extra, links: links(list)? })
            }
            FaultDecl::LossBurst { at, duration, p, links: list } => {
                within(*at, "at")?;
                length(*duration, "duration")?;
                let links = links(list)?;
                Ok(Fault::LossBurst { at: *at, duration: *duration, p: probability(*p, "p")?, links })
            }
            FaultDecl::DelayChange { at, delay, links: list } => {
                within(*at, "at")?;
                delay.validate().map_err(|m| ("delay", m))?;
                Ok(Fault::DelayChange { at: *at, delay: delay.clone(), links: links(list)? })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const END: Nanos = Nanos::from_secs(60);

    /// The fault of a `[[faults]]` table, checked in a run of 60 s over nodes a, b, c.
    fn resolve(table: &str) -> Result<Fault, (&'static str, String)> {
        #[derive(Deserialize)]
        struct File {
            faults: Vec<FaultDecl>,
        }
        let file: File = toml::from_str(&format!("[[faults]]\n{table}")).expect("parses");
        let node = |id: &str| ["a", "b", "c"].iter().position(|n| *n == id).ok_or(format!("no node `{id}`"));
        file.faults[0].resolve(END, node)
    }

    fn error(table: &str) -> (&'static str, String) {
        resolve(table).expect_err(table)
    }

    #[test]
    fn crashes_are_scheduled_once_or_random() {
        assert_eq!(
            resolve("kind = \"crash\"\nnode = \"b\"\nat = \"10s\"").unwrap(),
            Fault::Crash {
                node: 1,
                schedule: CrashSchedule::Once { at: Nanos::from_secs(10), down: None },
                new_incarnation: true
            }
        );
        assert_eq!(
            resolve("kind = \"crash\"\nnode = \"c\"\nat = \"10s\"\ndown = \"2s\"\nnew_incarnation = false").unwrap(),
            Fault::Crash {
                node: 2,
                schedule: CrashSchedule::Once { at: Nanos::from_secs(10), down: Some(Nanos::from_secs(2)) },
                new_incarnation: false
            }
        );
        assert_eq!(
            resolve("kind = \"crash\"\nnode = \"a\"\nmttf = \"20s\"\nmttr = \"1s\"").unwrap(),
            Fault::Crash {
                node: 0,
                schedule: CrashSchedule::Random { mttf: Nanos::from_secs(20), mttr: Nanos::from_secs(1) },
                new_incarnation: true
            }
        );
    }

    #[test]
    fn a_crash_of_mixed_or_incomplete_shape_names_the_field_in_the_way() {
        let crash = "kind = \"crash\"\nnode = \"a\"\n";
        for (rest, field, needle) in [
            ("at = \"1s\"\nmttf = \"1s\"\nmttr = \"1s\"", "mttf", "not both"),
            ("at = \"1s\"\nmttr = \"1s\"", "mttr", "not both"),
            ("down = \"1s\"\nmttf = \"1s\"\nmttr = \"1s\"", "down", "not both"),
            ("mttf = \"1s\"", "mttr", "needs `mttf` and `mttr`"),
            ("mttr = \"1s\"", "mttf", "needs `mttf` and `mttr`"),
            ("down = \"1s\"", "at", "give either `at`"),
            ("", "at", "give either `at`"),
            ("at = \"1s\"\ndown = \"0s\"", "down", "greater than zero"),
            ("mttf = \"0s\"\nmttr = \"1s\"", "mttf", "greater than zero"),
            ("mttf = \"1s\"\nmttr = \"0s\"", "mttr", "greater than zero"),
            ("at = \"1m\"", "at", "end of the run (1m)"),
            ("mttf = \"1us\"\nmttr = \"1us\"", "mttf", "30000000 events"),
        ] {
            let (f, message) = error(&format!("{crash}{rest}"));
            assert_eq!(f, field, "{rest}: {message}");
            assert!(message.contains(needle), "{rest}: {message}");
        }
        assert_eq!(error("kind = \"crash\"\nnode = \"z\"\nat = \"1s\""), ("node", "no node `z`".to_string()));
    }

    /// The bounds are inclusive: a duration of 2^62 ns, and a random process that draws
    /// exactly [`MAX_RANDOM_EVENTS`] over the run (60 s / (30 µs + 30 µs)), are accepted.
    #[test]
    fn the_largest_lengths_and_processes_accepted_are_the_limits_themselves() {
        let limit = Nanos::LIMIT.as_u64();
        let pause = |d: u64| resolve(&format!("kind = \"pause\"\nnode = \"a\"\nat = \"1s\"\nduration = \"{d}ns\""));
        assert!(
            matches!(pause(limit), Ok(Fault::Pause { schedule: PauseSchedule::Once { duration, .. }, .. }) if duration == Nanos::LIMIT)
        );
        assert_eq!(pause(limit + 1).unwrap_err().0, "duration");
        let crash =
            |mttr: &str| resolve(&format!("kind = \"crash\"\nnode = \"a\"\nmttf = \"30us\"\nmttr = \"{mttr}\""));
        assert!(crash("30us").is_ok());
        let (field, message) = crash("29999ns").unwrap_err();
        assert_eq!(field, "mttf");
        assert!(message.contains("draws about 1000016 events over the run (1m); at most 1000000"), "{message}");
        let spike = |extra: u64| {
            resolve(&format!("kind = \"delay-spike\"\nat = \"1s\"\nduration = \"1s\"\nextra = \"{extra}ns\""))
        };
        assert!(matches!(spike(limit), Ok(Fault::DelaySpike { extra, .. }) if extra == Nanos::LIMIT));
        assert_eq!(spike(limit + 1).unwrap_err().0, "extra");
        // The last instant of the run is within it.
        assert!(resolve("kind = \"crash\"\nnode = \"a\"\nat = \"59999999999ns\"").is_ok());
    }

    #[test]
    fn pauses_are_scheduled_once_or_random() {
        assert_eq!(
            resolve("kind = \"pause\"\nnode = \"a\"\nwhat = \"sender\"\nat = \"5s\"\nduration = \"2s\"").unwrap(),
            Fault::Pause {
                node: 0,
                what: PauseTarget::Sender,
                schedule: PauseSchedule::Once { at: Nanos::from_secs(5), duration: Nanos::from_secs(2) }
            }
        );
        let durations = DelayModel::Constant { value: Nanos::from_millis(300) };
        assert_eq!(
            resolve(
                "kind = \"pause\"\nnode = \"b\"\nevery = \"10s\"\ndurations = { dist = \"constant\", value = \"300ms\" }"
            )
            .unwrap(),
            Fault::Pause {
                node: 1,
                what: PauseTarget::Node,
                schedule: PauseSchedule::Random { every: Nanos::from_secs(10), durations }
            }
        );
    }

    #[test]
    fn a_pause_of_mixed_or_incomplete_shape_names_the_field_in_the_way() {
        let pause = "kind = \"pause\"\nnode = \"a\"\n";
        let dist = "durations = { dist = \"constant\", value = \"1s\" }";
        for (rest, field, needle) in [
            (format!("at = \"1s\"\nduration = \"1s\"\nevery = \"1s\"\n{dist}"), "every", "not both"),
            (format!("at = \"1s\"\n{dist}"), "durations", "not both"),
            ("duration = \"1s\"\nevery = \"1s\"".to_string(), "every", "not both"),
            ("at = \"1s\"".to_string(), "duration", "needs a `duration`"),
            ("duration = \"1s\"".to_string(), "at", "needs `at`"),
            ("every = \"1s\"".to_string(), "durations", "needs `every` and `durations`"),
            (dist.to_string(), "every", "needs `every` and `durations`"),
            (String::new(), "at", "give `at` and `duration`"),
            ("at = \"2m\"\nduration = \"1s\"".to_string(), "at", "end of the run (1m)"),
            ("at = \"1s\"\nduration = \"200000d\"".to_string(), "duration", "146 years"),
            (format!("every = \"1ns\"\n{dist}"), "every", "events"),
            (
                "every = \"1s\"\ndurations = { dist = \"uniform\", min = \"2s\", max = \"1s\" }".to_string(),
                "durations",
                "`min` is above `max`",
            ),
        ] {
            let (f, message) = error(&format!("{pause}{rest}"));
            assert_eq!(f, field, "{rest}: {message}");
            assert!(message.contains(needle), "{rest}: {message}");
        }
    }

    #[test]
    fn partitions_cut_groups_or_one_way() {
        assert_eq!(
            resolve("kind = \"partition\"\nat = \"1s\"\nduration = \"2s\"\ngroups = [[\"a\"], [\"b\", \"c\"]]")
                .unwrap(),
            Fault::Partition {
                at: Nanos::from_secs(1),
                duration: Nanos::from_secs(2),
                cut: Cut::Groups(vec![vec![0], vec![1, 2]])
            }
        );
        assert_eq!(
            resolve("kind = \"partition\"\nat = \"1s\"\nduration = \"2s\"\nfrom = [\"c\"]\nto = [\"a\", \"b\"]")
                .unwrap(),
            Fault::Partition {
                at: Nanos::from_secs(1),
                duration: Nanos::from_secs(2),
                cut: Cut::OneWay { from: vec![2], to: vec![0, 1] }
            }
        );
        let partition = "kind = \"partition\"\nat = \"1s\"\nduration = \"2s\"\n";
        for (rest, field, needle) in [
            ("groups = [[\"a\"]]", "groups", "at least two groups"),
            ("groups = [[\"a\"], [\"b\"]]\nfrom = [\"a\"]", "groups", "give `groups`"),
            ("from = [\"a\"]", "to", "needs `to` as well as `from`"),
            ("", "groups", "give `groups`"),
            ("groups = [[\"a\"], [\"q\"]]", "groups", "no node `q`"),
            ("from = [\"a\"]\nto = [\"q\"]", "to", "no node `q`"),
            // A node cut from itself, or on both sides, or in two groups.
            ("from = [\"a\"]\nto = [\"a\"]", "to", "node `a` is listed twice (in `from` and in `to`"),
            ("from = [\"a\", \"b\"]\nto = [\"c\", \"b\"]", "to", "node `b` is listed twice (in `from` and in `to`"),
            ("from = [\"a\", \"a\"]\nto = [\"c\"]", "from", "node `a` is listed twice (once is enough)"),
            ("from = [\"a\"]\nto = [\"c\", \"c\"]", "to", "node `c` is listed twice (once is enough)"),
            ("from = [\"q\"]\nto = [\"q\"]", "from", "no node `q`"),
            ("to = [\"a\"]", "from", "needs `from` as well as `to`"),
            (
                "groups = [[\"a\", \"b\"], [\"b\", \"c\"]]",
                "groups",
                "node `b` is listed twice (a node is in one group)",
            ),
            ("groups = [[\"a\", \"a\"], [\"c\"]]", "groups", "node `a` is listed twice"),
            ("groups = [[\"a\"], []]", "groups", "a group is empty"),
        ] {
            let (f, message) = error(&format!("{partition}{rest}"));
            assert_eq!(f, field, "{rest}: {message}");
            assert!(message.contains(needle), "{rest}: {message}");
        }
    }

    #[test]
    fn omissions_spikes_and_bursts_default_and_check_their_fields() {
        assert_eq!(
            resolve("kind = \"omission\"\nnode = \"c\"\np = 0.25").unwrap(),
            Fault::Omission { node: 2, p: 0.25, at: Nanos::ZERO, duration: None }
        );
        assert_eq!(
            resolve("kind = \"delay-spike\"\nat = \"1s\"\nduration = \"1s\"\nextra = \"50ms\"").unwrap(),
            Fault::DelaySpike {
                at: Nanos::from_secs(1),
                duration: Nanos::from_secs(1),
                extra: Nanos::from_millis(50),
                links: Links::Monitored
            }
        );
        assert_eq!(
            resolve("kind = \"delay-change\"\nat = \"1s\"\ndelay = { dist = \"constant\", value = \"9ms\" }").unwrap(),
            Fault::DelayChange {
                at: Nanos::from_secs(1),
                delay: DelayModel::Constant { value: Nanos::from_millis(9) },
                links: Links::Monitored
            }
        );
        assert_eq!(
            resolve("kind = \"loss-burst\"\nat = \"1s\"\nduration = \"1s\"\np = 1\nlinks = [[\"b\", \"a\"]]").unwrap(),
            Fault::LossBurst {
                at: Nanos::from_secs(1),
                duration: Nanos::from_secs(1),
                p: 1.0,
                links: Links::Listed(vec![(1, 0)])
            }
        );
        for (table, field, needle) in [
            ("kind = \"omission\"\nnode = \"a\"\np = 1.5", "p", "[0, 1]"),
            ("kind = \"omission\"\nnode = \"a\"\np = 0.5\nduration = \"0s\"", "duration", "greater than zero"),
            ("kind = \"delay-spike\"\nat = \"1s\"\nduration = \"1s\"\nextra = \"200000d\"", "extra", "146 years"),
            ("kind = \"loss-burst\"\nat = \"1s\"\nduration = \"1s\"\np = -0.1", "p", "[0, 1]"),
            (
                "kind = \"loss-burst\"\nat = \"1s\"\nduration = \"1s\"\np = 1\nlinks = [[\"a\", \"x\"]]",
                "links",
                "no node `x`",
            ),
            (
                "kind = \"delay-change\"\nat = \"1s\"\ndelay = { dist = \"uniform\", min = \"2ms\", max = \"1ms\" }",
                "delay",
                "`min` is above `max`",
            ),
            (
                "kind = \"loss-burst\"\nat = \"1s\"\nduration = \"1s\"\np = 1\nlinks = [[\"a\", \"a\"]]",
                "links",
                "[`a`, `a`] is no link",
            ),
            (
                "kind = \"delay-spike\"\nat = \"1s\"\nduration = \"1s\"\nextra = \"1s\"\nlinks = [[\"a\", \"b\"], [\"a\", \"b\"]]",
                "links",
                "[`a`, `b`] is listed twice",
            ),
            (
                "kind = \"delay-change\"\nat = \"2m\"\ndelay = { dist = \"constant\", value = \"1ms\" }",
                "at",
                "end of the run",
            ),
            (
                "kind = \"delay-change\"\nat = \"1s\"\ndelay = { dist = \"constant\", value = \"1ms\" }\nlinks = [[\"q\", \"a\"]]",
                "links",
                "no node `q`",
            ),
        ] {
            let (f, message) = error(table);
            assert_eq!(f, field, "{table}: {message}");
            assert!(message.contains(needle), "{table}: {message}");
        }
    }

    #[test]
    fn an_arbitrary_node_must_lie_about_something() {
        let (field, message) = error("kind = \"arbitrary\"\nnode = \"a\"\nseq = \"honest\"");
        assert_eq!(field, "seq");
        assert!(message.contains("lies about nothing"), "{message}");
        assert_eq!(
            resolve("kind = \"arbitrary\"\nnode = \"b\"\nat = \"2s\"\nseq = \"frozen\"").unwrap(),
            Fault::Arbitrary {
                node: 1,
                at: Nanos::from_secs(2),
                duration: None,
                lie: Lie { seq: SeqLie::Frozen, ..Lie::default() }
            }
        );
    }

    #[test]
    fn pause_targets_stop_what_they_name() {
        assert!(PauseTarget::Node.stops_sending() && PauseTarget::Node.stops_receiving());
        assert!(PauseTarget::Sender.stops_sending() && !PauseTarget::Sender.stops_receiving());
        assert!(!PauseTarget::Monitor.stops_sending() && PauseTarget::Monitor.stops_receiving());
    }
}
