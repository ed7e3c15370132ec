#!/usr/bin/env python3
"""Reference tails of the regularized incomplete gamma functions across the domain of
Temme's expansion, for the test in src/analysis/poisson.rs.

For each a in A and each eta in ETAS (|eta| <= 1: x/a = lambda with lambda - 1 - ln lambda
= eta^2/2, the whole range where src/analysis/poisson.rs uses Temme's expansion), x is
rounded to a double and the smaller tail min(P(a, x), Q(a, x)) is computed at that exact
double with 40-digit mpmath (gammainc(..., regularized=True), each tail integrated on its
own side, so no tail is a difference). Nothing here shares code with the Rust
implementation. The far tails (|eta| near 1) are where the expansion's higher coefficients
weigh most: a wrong sign on any coefficient that matters at double precision moves them by
more than the test's tolerance.

Usage: python3 scripts/temme_tails.py > tests/data/temme_tails.csv (a few seconds).
"""

import mpmath as mp

mp.mp.dps = 40

A = [100, 101, 130, 200, 500, 1000]
ETAS = [-0.999, -0.95, -0.9, -0.8, -0.7, -0.5, -0.3, -0.1, 0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.999]

print("a,x,tail,value")
for a in A:
    for eta in ETAS:
        h = mp.mpf(eta) ** 2 / 2
        lo, hi = (mp.mpf(1) + mp.mpf("1e-30"), mp.mpf(5)) if eta > 0 else (mp.mpf("0.01"), mp.mpf(1) - mp.mpf("1e-30"))
        lam = mp.findroot(lambda l: l - 1 - mp.log(l) - h, (lo, hi), solver="bisect")
        x = float(a * lam)
        p = mp.gammainc(a, 0, x, regularized=True)
        q = mp.gammainc(a, x, mp.inf, regularized=True)
        tail, value = ("P", p) if eta < 0 else ("Q", q)
        assert value < mp.mpf("0.5")
        print(f"{a},{x!r},{tail},{mp.nstr(value, 25, min_fixed=1, max_fixed=0)}")
