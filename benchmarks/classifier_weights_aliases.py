"""The ntuple classifier on two samples of differently named branches and a weight branch.

Writes a flat Z→μμ-like file (``pt1, eta1, phi1, pt2, eta2, phi2``; Drell–Yan events of
the built-in generator, signal) and a jagged H→ZZ-like file (``Muon_Px[]``,
``Muon_Py[]``, ``Muon_Pz[]`` and a signed ``EventWeight``, a fifth negative; t t̄
dilepton events, background): tests/analysis_samples.py. The run config maps the
default features' names (``lep1_PT`` …) onto each file with ``aliases`` (the H→ZZ
muons' pT, η, φ computed from px, py, pz) and normalises both samples to
σ × L / Σw. Trains with ``python -m smartml.train`` in a fresh process and prints one
JSON object: the command, the event-counting and the weighted ROC areas, and the
weight pass of each sample (Σw, normalisation, negative entries).

    python benchmarks/classifier_weights_aliases.py [--events 5000] [--epochs 10]
        [--negative-weights keep|drop|absolute] [--keep DIR]
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.analysis_samples import classifier_config  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000, help="events per sample")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--negative-weights", default="keep")
    parser.add_argument("--keep", type=Path, help="write the files and the run here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        directory = args.keep or Path(scratch)
        directory.mkdir(parents=True, exist_ok=True)
        config = classifier_config(
            directory, args.events, epochs=args.epochs, negative_weights=args.negative_weights
        )
        path = directory / "classifier_weights_aliases.json"
        path.write_text(json.dumps(config, indent=2))
        command = [sys.executable, "-m", "smartml.train", str(path)]
        subprocess.run(command, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
        metrics = json.loads((directory / "run" / "metrics.json").read_text())
    print(
        json.dumps(
            {
                "command": " ".join(["python", "-m", "smartml.train", str(path)]),
                "events_per_sample": args.events,
                "epochs": args.epochs,
                "test_events": metrics["test_examples"],
                "auc_events": metrics["roc"]["auc"],
                "auc_weighted": metrics["weighted"]["auc"],
                "weights": metrics["weights"],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
