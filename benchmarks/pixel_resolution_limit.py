"""The resolution the smart-pixel clusters allow: a float reference (``pixel_cnn``)
trained at several sizes and lengths on the same data and test split as
``configs/pixel_2t.json`` (or ``pixel_20t``), printed as JSON beside the seed model.

Each point is a complete ``smartml train`` run under ``--runs`` (default
``runs/resolution_limit``), named ``<slices>_w<width>_e<epochs>``; a complete run is
read again, not retrained, so the table can be grown over several sessions. The width
multiplies every layer of ``configs/pixel_<slices>_float.json`` (convolution filters and
Dense units). Per run: parameters, epochs run, x/y/cotα/cotβ robust widths and pull
standard deviations, the validation NLL, and the training wall time.

A size or length is "at the limit" when doubling it changes no width by more than the
run-to-run spread; the ``limit`` block gives, per target, the best width seen and how
much the two largest points differ.

    python benchmarks/pixel_resolution_limit.py [--slices 2t|20t] [--widths 1 2]
        [--epochs 48 96] [--runs DIR] [--seed-run runs/pixel_2t] [--train]

Without ``--train`` only complete runs are read (missing points are listed).
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGETS = ("x-midplane", "y-midplane", "cotAlpha", "cotBeta")


def float_config(slices: str) -> dict:
    return json.loads((REPO / "configs" / f"pixel_{slices}_float.json").read_text())


def scaled_model(model: dict, width: float) -> dict:
    """The float reference with every layer ``width`` times as wide."""
    return {
        **model,
        "conv_filters": [max(1, round(f * width)) for f in model["conv_filters"]],
        "hidden_units": [max(1, round(u * width)) for u in model["hidden_units"]],
    }


def train(run: Path, slices: str, width: float, epochs: int) -> None:
    model = scaled_model(float_config(slices)["model"], width)
    command = [
        sys.executable,
        "-m",
        "smartml",
        "train",
        str(REPO / "configs" / f"pixel_{slices}_float.json"),
        "--output",
        str(run),
        "--epochs",
        str(epochs),
        "--set",
        f"model={json.dumps(model)}",
        "--set",
        "training.early_stopping_patience=0",
    ]
    subprocess.run(command, check=True, cwd=REPO)


def point(run: Path) -> dict:
    """The figures of one complete run."""
    metrics = json.loads((run / "metrics.json").read_text())
    row = {
        "run": str(run),
        "parameters": metrics["training"]["parameters"],
        "epochs_run": metrics["training"]["epochs_run"],
        "fit_seconds": metrics["training"]["fit_seconds"],
        "val_nll": metrics["validation"]["value"],
    }
    for target in TARGETS:
        row[f"{target}_width"] = metrics[target]["robust_width"]
        row[f"{target}_pull_std"] = metrics[target]["pull_std"]
    return row


def limit(rows: list[dict]) -> dict:
    """Per target the best width, and the relative change between the two runs with
    the most parameters x epochs (how far from converged the largest point is)."""
    if not rows:
        return {}
    ordered = sorted(rows, key=lambda r: r["parameters"] * r["epochs_run"])
    summary = {}
    for target in TARGETS:
        key = f"{target}_width"
        best = min(r[key] for r in rows)
        change = None
        if len(ordered) > 1:
            change = ordered[-1][key] / ordered[-2][key] - 1.0
        summary[target] = {"best_width": best, "change_at_the_largest": change}
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", choices=["2t", "20t"], default="2t")
    parser.add_argument("--widths", type=float, nargs="+", default=[1.0, 2.0])
    parser.add_argument("--epochs", type=int, nargs="+", default=[48])
    parser.add_argument("--runs", type=Path, default=REPO / "runs" / "resolution_limit")
    parser.add_argument("--seed-run", type=Path, help="a complete pixel_mdn run to show beside")
    parser.add_argument("--train", action="store_true", help="train the missing points")
    args = parser.parse_args()

    rows, missing = [], []
    for width in args.widths:
        for epochs in args.epochs:
            run = args.runs / f"{args.slices}_w{width:g}_e{epochs}"
            if not (run / "COMPLETE.json").is_file() and args.train:
                train(run, args.slices, width, epochs)
            if (run / "COMPLETE.json").is_file():
                rows.append({"width": width, "epochs": epochs, **point(run)})
            else:
                missing.append(str(run))
    result = {"slices": args.slices, "float_reference": rows, "limit": limit(rows)}
    if args.seed_run:
        result["seed_model"] = point(args.seed_run)
    result["missing"] = missing
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
