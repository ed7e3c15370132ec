#!/usr/bin/env python3
"""Taylor coefficients of Temme's c_k(eta) for src/analysis/poisson.rs, in exact rationals.

Temme's uniform expansion of the regularized incomplete gamma function (DLMF 8.12.8-10):

    Q(a, x) = erfc(eta * sqrt(a/2)) / 2 + exp(-a eta^2/2) / sqrt(2 pi a) * sum_k c_k(eta) a^-k
    lambda = x/a,  eta^2/2 = lambda - 1 - ln(lambda),  sign(eta) = sign(lambda - 1)
    c_0 = 1/(lambda - 1) - 1/eta
    c_k = (1/eta) c_{k-1}'(eta) + g_k/(lambda - 1),

where g_k is the constant that keeps c_k analytic at eta = 0 (it comes out as the Stirling
coefficients, g_1 = -1/12, ...). The closed forms cancel catastrophically near eta = 0, which
is where every Poisson quantile lies, so the Rust code evaluates Taylor polynomials instead.
This script builds them with Fraction series arithmetic (no floating point until the final,
correctly rounded conversion) and prints the Rust constant. Known values as a check:
c_0(0) = -1/3, c_1(0) = -1/540, c_2(0) = 25/6048, c_3(0) = 101/155520.

Usage: python3 scripts/temme_coefficients.py > /tmp/temme.rs
"""

from fractions import Fraction

ORDERS = 7  # c_0 .. c_6
TERMS = [20 - 2 * k for k in range(ORDERS)]  # Taylor terms kept for c_k
N = 32  # working series length; each c_k step consumes two terms


def mul(a, b):
    n = min(len(a), len(b))
    r = [Fraction(0)] * n
    for i, x in enumerate(a[:n]):
        for j in range(n - i):
            r[i + j] += x * b[j]
    return r


def inverse(a):
    r = [Fraction(0)] * len(a)
    r[0] = 1 / a[0]
    for m in range(1, len(a)):
        r[m] = -sum(a[j] * r[m - j] for j in range(1, m + 1)) / a[0]
    return r


def sqrt_one_plus(a):
    """Square root of a series with a[0] == 1."""
    r = [Fraction(0)] * len(a)
    r[0] = Fraction(1)
    for m in range(1, len(a)):
        r[m] = (a[m] - sum(r[j] * r[m - j] for j in range(1, m))) / 2
    return r


def compose(a, b):
    """a(b(x)) for b[0] == 0."""
    r = [Fraction(0)] * len(a)
    power = [Fraction(1)] + [Fraction(0)] * (len(a) - 1)
    for i, coefficient in enumerate(a):
        if i:
            power = mul(power, b)
        r = [x + coefficient * y for x, y in zip(r, power)]
    return r


def temme_coefficients():
    # eta as a series in mu = lambda - 1: eta = mu * sqrt(2 (mu - ln(1 + mu)) / mu^2).
    ratio = [Fraction(2 * (-1) ** j, j + 2) for j in range(N)]
    eta_of_mu = [Fraction(0)] + sqrt_one_plus(ratio)[: N - 1]
    # Revert by fixed-point iteration: mu <- mu - (eta(mu) - eta); exact after N rounds.
    mu = [Fraction(0), Fraction(1)] + [Fraction(0)] * (N - 2)
    for _ in range(N):
        e = compose(eta_of_mu, mu)
        e[1] -= 1
        mu = [m - x for m, x in zip(mu, e)]
    assert mu[:5] == [0, 1, Fraction(1, 3), Fraction(1, 36), Fraction(-1, 270)]
    # eta/mu = 1 + i_1 eta + ..., so 1/mu = 1/eta + sum_{n>=1} i_n eta^(n-1).
    inv = inverse(mu[1:])
    c = [inv[n] for n in range(1, len(inv))]  # c_0 = 1/mu - 1/eta
    out = [c]
    for _ in range(1, ORDERS):
        g = -c[1]  # cancels the 1/eta pole of c'/eta
        c = [(m + 2) * c[m + 2] + g * inv[m + 1] for m in range(len(c) - 2)]
        out.append(c)
    expected = [Fraction(-1, 3), Fraction(-1, 540), Fraction(25, 6048), Fraction(101, 155520)]
    assert [c[0] for c in out[:4]] == expected
    return [c[:n] for c, n in zip(out, TERMS)]


def main():
    print("/// Taylor coefficients in η of Temme's c_0 … c_6 (scripts/temme_coefficients.py).")
    print("#[rustfmt::skip]")
    print(f"const TEMME: [&[f64]; {ORDERS}] = [")
    for k, c in enumerate(temme_coefficients()):
        print(f"    // c_{k}")
        print("    &[")
        for x in c:
            print(f"        {float(x)!r},")
        print("    ],")
    print("];")


if __name__ == "__main__":
    main()
