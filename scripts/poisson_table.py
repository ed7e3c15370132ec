#!/usr/bin/env python3
"""Reference table of exact (Garwood) Poisson bounds, for the test in src/analysis/poisson.rs.

For each count k, per unit exposure, with 50-digit arithmetic (mpmath):

    lower   = chi2_0.025(2k)/2    : the lambda with P(k, lambda)     = 0.025 (0 when k = 0)
    upper   = chi2_0.975(2k+2)/2  : the lambda with Q(k+1, lambda)   = 0.025
    upper95 = chi2_0.95(2k+2)/2   : the lambda with Q(k+1, lambda)   = 0.05 (one-sided)

P and Q are mpmath's own regularized incomplete gamma functions (gammainc(..., regularized=
True)); nothing here shares code with the Rust implementation. Every equation is written with
the upper function Q (P(k, x) = 0.025 as Q(k, x) = 0.975), because mpmath's lower-gamma series
gives up near k = 10^9; where the series does converge the script checks P + Q = 1 at the
root. Each root is confirmed by a sign change of Q - q across root * (1 -+ 1e-30).

Usage: python3 scripts/poisson_table.py [--out tests/data/poisson_garwood.csv] [k ...]
(about five minutes, nearly all of it in the k = 10^12 row).
"""

import argparse
import csv
import sys

import mpmath as mp

mp.mp.dps = 50

COUNTS = [0, 1, 2, 3, 5, 10, 20, 50, 99, 100, 101, 1000, 10**4, 10**5, 277029, 10**6,
          10**7, 10**8, 10**9, 10**12]
DIGITS = 25


def q(a, x):
    return mp.gammainc(a, x, mp.inf, regularized=True)


def solve_q(a, target):
    """The x with Q(a, x) = target (Q decreases in x)."""
    a = mp.mpf(a)
    target = mp.mpf(target)
    z = -mp.sqrt(2) * mp.erfinv(1 - 2 * target)  # normal quantile of P = 1 - target
    guess = a * (1 - 1 / (9 * a) - z / (3 * mp.sqrt(a))) ** 3  # Wilson–Hilferty
    # Bracket in units of the standard deviation sqrt(a), as a ratio so it stays positive:
    # mpmath's gamma function slows down badly a few hundred deviations from the mean.
    step = mp.mpf("0.05") / mp.sqrt(a)
    lo, hi = guess * mp.exp(-step), guess * mp.exp(step)
    while q(a, lo) < target:
        lo *= mp.exp(-step)
        step *= 2
    while q(a, hi) > target:
        hi *= mp.exp(step)
        step *= 2
    root = mp.findroot(lambda x: q(a, x) - target, (lo, hi), solver="illinois")
    eps = mp.mpf("1e-30")
    assert q(a, root * (1 - eps)) > target > q(a, root * (1 + eps)), (a, target, root)
    if a <= 10**6:
        p = mp.gammainc(a, 0, root, regularized=True)
        assert abs(p + q(a, root) - 1) < mp.mpf("1e-45"), (a, root)
    return root


def bounds(k):
    lower = mp.mpf(0) if k == 0 else solve_q(k, "0.975")
    return lower, solve_q(k + 1, "0.025"), solve_q(k + 1, "0.05")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tests/data/poisson_garwood.csv")
    parser.add_argument("counts", nargs="*", type=int, default=COUNTS)
    args = parser.parse_args()
    with open(args.out, "w", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(["count", "lower_2.5", "upper_97.5", "upper_95_one_sided"])
        for k in args.counts:
            row = [mp.nstr(v, DIGITS, min_fixed=-mp.inf, max_fixed=mp.inf) for v in bounds(k)]
            out.writerow([k] + row)
            print(k, *row, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
