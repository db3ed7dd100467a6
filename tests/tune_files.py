"""Tiny search configurations for the tests of ``smartml.tune`` (the pixel task on a
few hundred simulated clusters, short trainings)."""

import json
from pathlib import Path

REPO = Path(__file__).parents[1]


def tune_config(tmp_path: Path, tune: dict, epochs: int = 1, name: str = "tiny") -> Path:
    """Write a pixel_2t-based run configuration with the ``tune`` section ``tune``;
    its runs go to ``tmp_path/run`` and its simulated data to ``tmp_path/sim``."""
    config = json.loads((REPO / "configs" / "pixel_2t.json").read_text())
    config["name"] = name
    config["data"]["path"] = str(tmp_path / "sim")
    config["data"]["simulation"].update(n_clusters=600, clusters_per_file=300, rows_per_group=100)
    config["training"].update(epochs=epochs, batch_size=64, verbose=0)
    config["output"] = {"dir": str(tmp_path / "run"), "plots": False}
    config["tune"] = tune
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(config))
    return path


def space(*parameters: dict) -> list[dict]:
    """The default search space of the tests, or ``parameters``."""
    return list(parameters) or [
        {"key": "model.hidden_units.0", "type": "int", "low": 2, "high": 12},
        {"key": "training.learning_rate", "type": "float", "low": 1e-3, "high": 2e-2, "log": True},
    ]
