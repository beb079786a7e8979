#!/usr/bin/python3
"""The offline reference for the churn model (test_models_truth.c).

Reads the labelled churn examples the engine's trainer saw (CSV: country,
time, the features, label, p = the trainer's prediction made before it
learned the label), and per country:
  - fits scikit-learn's LogisticRegression on the examples of the first half
    of the country's time span and scores the second half (AUC);
  - scores the trainer's prequential predictions on the same second half.
Prints both. With a list of countries (GB,NL,SE), exits 1 when, for one of
them, the two AUCs differ by more than 0.02 or a class is missing; with
--any it only requires that some country could be scored.

usage: churn_reference.py EXAMPLES.csv (GB,NL,SE | --any)
"""
import csv
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

MAX_GAP = 0.02


def main():
    path, which = sys.argv[1], sys.argv[2]
    asserted = [] if which == "--any" else which.split(",")
    by_country = {}
    with open(path) as f:
        r = csv.reader(f)
        header = next(r)
        nx = len(header) - 4
        for row in r:
            by_country.setdefault(row[0], []).append(row)
    print("country examples positives  sklearn  trainer    gap  (second half)")
    ok, scored = True, 0
    for cc in sorted(by_country):
        rows = by_country[cc]
        t = np.array([int(x[1]) for x in rows])
        X = np.array([[float(v) for v in x[2:2 + nx]] for x in rows])
        y = np.array([int(x[2 + nx]) for x in rows])
        p = np.array([float(x[3 + nx]) for x in rows])
        mid = (t.min() + t.max()) // 2
        train, test = t < mid, t >= mid
        classes_ok = len(set(y[train])) == 2 and len(set(y[test])) == 2
        if not classes_ok:
            print(f"{cc:7s} {len(rows):8d} {int(y.sum()):9d}  (one class only)")
            ok = ok and cc not in asserted
            continue
        ref = LogisticRegression(C=1.0, max_iter=2000).fit(X[train], y[train])
        auc_ref = roc_auc_score(y[test], ref.predict_proba(X[test])[:, 1])
        auc_ours = roc_auc_score(y[test], p[test])
        gap = auc_ours - auc_ref
        scored += 1
        flag = ""
        if cc in asserted and abs(gap) > MAX_GAP:
            ok, flag = False, "  <- more than 0.02 apart"
        print(f"{cc:7s} {len(rows):8d} {int(y.sum()):9d}  {auc_ref:7.4f}  {auc_ours:7.4f}  "
              f"{gap:+.4f}{flag}")
    if scored == 0:
        ok = False
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
