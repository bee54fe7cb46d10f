#!/usr/bin/env python3
"""lifetimes' side of `guanxi bench clv`: fit BG/NBD and Pareto/NBD to the same
(frequency, recency, T) rows guanxi fitted, timing each fit.

Usage: clv_lifetimes.py ROWS.csv [MODEL ...]   (models: bgnbd pnbd; default both)
Prints one JSON line: {"bgnbd": {"seconds": …, "params": {…}}, …}.
"""
import json
import sys
import time

import pandas as pd
from lifetimes import BetaGeoFitter, ParetoNBDFitter

rows = pd.read_csv(sys.argv[1])
models = sys.argv[2:] or ["bgnbd", "pnbd"]
out = {}
for name in models:
    fitter = {"bgnbd": BetaGeoFitter, "pnbd": ParetoNBDFitter}[name](penalizer_coef=0.0)
    started = time.perf_counter()
    try:
        fitter.fit(rows["frequency"], rows["recency"], rows["T"])
        out[name] = {"seconds": time.perf_counter() - started, "params": {k: float(v) for k, v in fitter.params_.items()}}
    except Exception as e:  # lifetimes fails to converge on some data: report it
        out[name] = {"seconds": time.perf_counter() - started, "error": str(e)[:200]}
print(json.dumps(out))
