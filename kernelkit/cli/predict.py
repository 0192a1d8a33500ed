"""``kernelkit predict``: predictions of a saved model on a CSV file."""

from __future__ import annotations

import argparse
import csv
import time
from typing import Any

import numpy as np

from ..exceptions import InputValueError
from ._common import fmt_seconds, make_console, print_json

HELP = "Predict with a model saved by `kernelkit fit` on TEST.csv; optional CSV output."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model file written by `kernelkit fit` (or io.save)")
    parser.add_argument("test", help="CSV file with the model's feature columns")
    parser.add_argument("--out", default=None,
                        help="write predictions (and GP std) to this CSV")
    parser.add_argument("--std", action="store_true",
                        help="GP models: also the predictive standard deviation")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    from .. import io
    from ..regression import GaussianProcessRegressor
    from .fit import read_csv, select_columns

    console = make_console(stderr=args.json)
    model: Any = io.load(args.model)
    data, names = read_csv(args.test)
    columns = [str(c) for c in getattr(model, "cli_columns_", [])]
    if columns:
        X = select_columns(data, names, columns, args.test)
        X = (X - model.cli_mean_) / model.cli_scale_
    else:  # a model saved from Python: all columns, in file order
        X = data
    if args.std and not isinstance(model, GaussianProcessRegressor):
        raise InputValueError("--std needs a Gaussian-process model (kernelkit fit gp).")
    t0 = time.perf_counter()
    if args.std:
        pred, std = model.predict(X, return_std=True)
    else:
        pred, std = model.predict(X), None
    seconds = time.perf_counter() - t0
    summary: dict[str, Any] = {"n_samples": int(X.shape[0]), "predict_seconds": seconds}
    target = getattr(model, "cli_target_", None)
    if target is not None and target in names:
        y = data[:, names.index(target)]
        summary["rmse"] = float(np.sqrt(np.mean((pred - y) ** 2)))
    if args.out:
        with open(args.out, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["prediction"] + (["std"] if std is not None else []))
            for i in range(len(pred)):
                writer.writerow([repr(float(pred[i]))]
                                + ([repr(float(std[i]))] if std is not None else []))
        summary["out"] = args.out
    if args.json:
        summary["predictions"] = pred.tolist() if not args.out else None
        print_json(summary)
    else:
        msg = f"{len(pred)} predictions in {fmt_seconds(seconds)}"
        if "rmse" in summary:
            msg += f"; RMSE against column {target!r}: {summary['rmse']:.4g}"
        console.print(msg)
        if args.out:
            console.print(f"written to {args.out}")
        else:
            for value in pred[:10]:
                console.print(f"{value:.6g}")
            if len(pred) > 10:
                console.print(f"... ({len(pred) - 10} more; use --out FILE)")
    return 0
