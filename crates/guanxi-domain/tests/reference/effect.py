"""Reference values for guanxi's campaign effect formulas (src/campaign/effect.rs),
computed with statsmodels and scipy. Prints src/campaign/reference.rs:

    python3 crates/guanxi-domain/tests/reference/effect.py > crates/guanxi-domain/src/campaign/reference.rs

Needs `pip install scipy statsmodels` (computed with scipy 1.17.1, statsmodels 0.15.0).
"""
import scipy
import statsmodels
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep

NEWCOMBE = [
    # (x1, n1, x2, n2): small counts, a zero arm, a full arm, a big campaign.
    (12, 180, 1, 20),
    (0, 50, 0, 10),
    (5, 5, 2, 7),
    (230, 4500, 18, 500),
    (3, 900, 4, 100),
    (1, 2, 0, 1),
]

WELCH = [
    ([12.5, 0.0, 0.0, 33.0, 0.0, 7.25, 0.0, 90.0], [0.0, 0.0, 15.0, 0.0, 4.5]),
    ([1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 2.5, 3.0]),
    ([0.0, 0.0, 0.0, 120.0, -30.0, 45.5, 0.0, 0.0, 0.0, 10.0, 0.0, 0.0],
     [0.0, 0.0, 60.0, 0.0, -12.0, 0.0]),
    ([100.0, 101.0], [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]),
]

SRM = [
    # (observed, shares)
    ([4510, 490], [0.9, 0.1]),
    ([4350, 650], [0.9, 0.1]),
    ([300, 310, 95], [0.425, 0.425, 0.15]),
]


def f(x):
    return repr(float(x))


print("//! Reference values for the effect formulas' tests, printed by")
print("//! `tests/reference/effect.py` with scipy %s and statsmodels %s. Do not edit." % (scipy.__version__, statsmodels.__version__))
print()
print("/// (x1, n1, x2, n2, low, high) of Newcombe's interval for x1/n1 − x2/n2.")
print("pub(super) const NEWCOMBE: [(u64, u64, u64, u64, f64, f64); %d] = [" % len(NEWCOMBE))
for x1, n1, x2, n2 in NEWCOMBE:
    low, high = confint_proportions_2indep(x1, n1, x2, n2, method="newcomb", compare="diff", alpha=0.05)
    print("    (%d, %d, %d, %d, %s, %s)," % (x1, n1, x2, n2, f(low), f(high)))
print("];")
print()
print("/// (a, b, low, high) of Welch's interval for mean(a) − mean(b).")
print("pub(super) fn welch() -> Vec<(Vec<f64>, Vec<f64>, f64, f64)> {")
print("    vec![")
for a, b in WELCH:
    ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    print("        (vec!%s, vec!%s, %s, %s)," % ([float(x) for x in a], [float(x) for x in b], f(ci.low), f(ci.high)))
print("    ]")
print("}")
print()
print("/// (observed, shares, chi2, p) of the χ² goodness of fit.")
print("pub(super) const SRM: [(&[u64], &[f64], f64, f64); %d] = [" % len(SRM))
for observed, shares in SRM:
    total = sum(observed)
    r = stats.chisquare(observed, [s * total for s in shares])
    print("    (&%s, &%s, %s, %s)," % (observed, shares, f(r.statistic), f(r.pvalue)))
print("];")
