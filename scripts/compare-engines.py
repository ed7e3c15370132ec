#!/usr/bin/env python3
"""Compares two results directories of the same experiment from different engines (the
simulator and live mode) on what has statistical power in a few minutes:

- one-way delay quantiles (p10, p50, p90, p99) of the heartbeats the monitors accepted,
  with moving-block bootstrap 95 % intervals per engine (delays are autocorrelated, so
  plain KS p-values are invalid): agree when the intervals overlap, or differ by less
  than the live run's relay release lateness p99 plus 0.1 ms (loopback);
- the loss rate on the links (lost / sent, every link together): a two-proportion
  z-test, agree when p > 0.01;
- detection time per detector configuration over every crash either engine saw (at least
  30): Welch's 95 % interval of the difference of means, agree when it holds zero or the
  difference is below the live run's send lateness p99 (the kill can land just after a
  slot's heartbeat left);
- mistake counts per detector configuration: the exact conditional test of two Poisson
  rates (given k1 + k2 mistakes, k2 is binomial with p = t2 / (t1 + t2) under equal rates),
  agree when p > 0.01.

    python3 scripts/compare-engines.py SIM_DIR LIVE_DIR [--out DIR]

Writes DIR/comparison.md and DIR/comparison.json (default: beside the inputs' parent) and
prints the table. Standard library only.
"""
import argparse
import csv
import json
import math
import os
import random
import statistics


def load(d):
    with open(os.path.join(d, "summary.json")) as f:
        return json.load(f)


def delays(d):
    """Per link, the one-way delays (ns) in receive order."""
    series = {}
    with open(os.path.join(d, "trace.csv")) as f:
        for row in csv.DictReader(f):
            if row.get("sent_ns"):
                key = (row.get("monitor", ""), row["target"])
                series.setdefault(key, []).append(int(row["received_ns"]) - int(row["sent_ns"]))
    return series


def quantile(sorted_values, q):
    i = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[i]


def block_bootstrap(series, qs, reps=300, block=25, seed=1):
    """95 % intervals of pooled quantiles, resampling blocks of `block` consecutive delays
    within each link (a moving-block bootstrap)."""
    rng = random.Random(seed)
    estimates = {q: [] for q in qs}
    for _ in range(reps):
        pooled = []
        for values in series.values():
            n = len(values)
            b = min(block, n)
            got = 0
            while got < n:
                start = rng.randrange(0, n - b + 1)
                take = values[start:start + b][: n - got]
                pooled.extend(take)
                got += len(take)
        pooled.sort()
        for q in qs:
            estimates[q].append(quantile(pooled, q))
    out = {}
    for q in qs:
        e = sorted(estimates[q])
        out[q] = (e[int(0.025 * reps)], e[int(0.975 * reps) - 1])
    return out


def binom_two_sided(k, n, p):
    if n == 0:
        return 1.0
    pmf = [math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(n + 1)]
    return min(1.0, sum(x for x in pmf if x <= pmf[k] * (1 + 1e-9)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sim")
    ap.add_argument("live")
    ap.add_argument("--out")
    a = ap.parse_args()
    out = a.out or os.path.dirname(os.path.abspath(a.sim))
    sim, live = load(a.sim), load(a.live)
    checks = []
    lv = live.get("live") or {}
    relay_p99_ms = ((lv.get("relay_lateness") or {}).get("p99_us") or 0) / 1e3
    send_p99_s = ((lv.get("send_lateness") or {}).get("p99_us") or 0) / 1e6

    # Delays.
    qs = [0.1, 0.5, 0.9, 0.99]
    ds, dl = delays(a.sim), delays(a.live)
    bs, bl = block_bootstrap(ds, qs), block_bootstrap(dl, qs)
    ps = sorted(v for s in ds.values() for v in s)
    pl = sorted(v for s in dl.values() for v in s)
    tolerance = relay_p99_ms + 0.1
    for q in qs:
        s_est, l_est = quantile(ps, q) / 1e6, quantile(pl, q) / 1e6
        (s_lo, s_hi), (l_lo, l_hi) = [(x / 1e6, y / 1e6) for x, y in (bs[q], bl[q])]
        overlap = s_lo <= l_hi and l_lo <= s_hi
        ok = overlap or abs(s_est - l_est) <= tolerance
        checks.append({
            "what": "delay p%g (ms)" % (q * 100),
            "sim": "%.3f [%.3f, %.3f]" % (s_est, s_lo, s_hi),
            "live": "%.3f [%.3f, %.3f]" % (l_est, l_lo, l_hi),
            "rule": "95%% block-bootstrap intervals overlap, or |Δ| ≤ %.2f ms" % tolerance,
            "agree": ok,
        })

    # Loss.
    def loss(s):
        sent = sum(l["sent"] for l in s.get("links", []))
        lost = sum(l["lost"] for l in s.get("links", []))
        return lost, sent
    (k1, n1), (k2, n2) = loss(sim), loss(live)
    if n1 and n2:
        p1, p2, p = k1 / n1, k2 / n2, (k1 + k2) / (n1 + n2)
        se = math.sqrt(max(p * (1 - p) * (1 / n1 + 1 / n2), 1e-300))
        z = (p2 - p1) / se
        pval = math.erfc(abs(z) / math.sqrt(2))
        checks.append({
            "what": "loss rate",
            "sim": "%.4f (%d of %d)" % (p1, k1, n1),
            "live": "%.4f (%d of %d)" % (p2, k2, n2),
            "rule": "two-proportion z-test p > 0.01 (p = %.3f)" % pval,
            "agree": pval > 0.01,
        })

    # Detection time and mistakes, per configuration.
    def by_detector(s):
        out = {}
        for r in s["results"]:
            d = out.setdefault(r["detector"], {"td": [], "mistakes": 0, "up": 0.0})
            d["td"] += [c["detection_time_s"] for c in r["crashes"] if c.get("detection_time_s") is not None]
            d["mistakes"] += r["mistakes"]
            d["up"] += r["observed_up_s"]
        return out
    gs, gl = by_detector(sim), by_detector(live)
    for label in gs:
        if label not in gl:
            continue
        a_td, b_td = gs[label]["td"], gl[label]["td"]
        if len(a_td) >= 2 and len(b_td) >= 2:
            ma, mb = statistics.mean(a_td), statistics.mean(b_td)
            se = math.sqrt(statistics.variance(a_td) / len(a_td) + statistics.variance(b_td) / len(b_td))
            lo, hi = mb - ma - 1.96 * se, mb - ma + 1.96 * se
            ok = (lo <= 0 <= hi) or abs(mb - ma) <= send_p99_s
            checks.append({
                "what": "T_D mean (s) %s" % label,
                "sim": "%.4f (%d crashes)" % (ma, len(a_td)),
                "live": "%.4f (%d crashes)" % (mb, len(b_td)),
                "rule": "Welch 95%% interval of Δ [%.4f, %.4f] holds 0, or |Δ| ≤ send lateness p99" % (lo, hi),
                "agree": ok,
                "enough": min(len(a_td), len(b_td)) >= 30,
            })
        k1, t1 = gs[label]["mistakes"], gs[label]["up"]
        k2, t2 = gl[label]["mistakes"], gl[label]["up"]
        pval = binom_two_sided(k2, k1 + k2, t2 / (t1 + t2)) if t1 + t2 > 0 else 1.0
        checks.append({
            "what": "mistakes %s" % label,
            "sim": "%d in %.0f s" % (k1, t1),
            "live": "%d in %.0f s" % (k2, t2),
            "rule": "exact test of two Poisson rates p > 0.01 (p = %.3f)" % pval,
            "agree": pval > 0.01,
        })

    agree = all(c["agree"] for c in checks)
    lines = [
        "# %s: simulator against live mode" % sim["experiment"],
        "",
        "| measure | sim | live | rule | agree |",
        "| --- | --- | --- | --- | --- |",
    ]
    for c in checks:
        lines.append("| %s | %s | %s | %s | %s |" % (c["what"], c["sim"], c["live"], c["rule"], "yes" if c["agree"] else "**no**"))
    lines += ["", "Overall: %s (%d of %d checks agree)." % ("agree" if agree else "DISAGREE", sum(c["agree"] for c in checks), len(checks))]
    text = "\n".join(lines) + "\n"
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "comparison.md"), "w") as f:
        f.write(text)
    with open(os.path.join(out, "comparison.json"), "w") as f:
        json.dump({"agree": agree, "checks": checks}, f, indent=1)
    print(text)


if __name__ == "__main__":
    main()
