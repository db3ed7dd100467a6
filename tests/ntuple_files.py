"""Small ROOT ntuples written with uproot for the tests of smartml.ntuples and the tools.

:func:`write_tree` writes flat branches (numpy arrays) and jagged ones (awkward arrays;
uproot adds an ``n<name>`` counter) with ``mktree`` + ``extend`` in chunks, so that the
files hold several baskets like real ones. :func:`event_branches` makes a
reproducible set of DeepMEM-like branches with a jagged ``Jet_PT``/``Jet_Eta``.
"""

import json
from pathlib import Path

import awkward as ak
import numpy as np
import uproot


def write_tree(
    path: Path, branches: dict, tree: str = "events", chunk: int = 7, **more_trees: dict
) -> Path:
    """Write ``branches`` (name -> numpy or awkward array, one length) as TTree ``tree``
    (and each of ``more_trees``: tree name -> branches) in chunks of ``chunk`` entries."""
    with uproot.recreate(path) as file:
        for name, content in {tree: branches, **more_trees}.items():
            types = {key: _type_of(value) for key, value in content.items()}
            written = file.mktree(name, types)
            length = len(next(iter(content.values())))
            for start in range(0, max(length, 1), chunk):
                written.extend(
                    {key: value[start : start + chunk] for key, value in content.items()}
                )
    return path


def _type_of(value) -> object:
    if isinstance(value, ak.Array):
        return "var * " + str(ak.type(value).content.content)
    return value.dtype


def event_branches(n: int, seed: int) -> dict:
    """DeepMEM-like branches: lep1/lep2 PT, Eta, Phi, MET, METPhi and jagged jets
    (0 to 3 per event, so that index 2 is missing in most events)."""
    rng = np.random.default_rng(seed)
    flat = {
        f"{lep}_{var}": values.astype(np.float32)
        for lep in ("lep1", "lep2")
        for var, values in (
            ("PT", rng.exponential(30.0, n) + 20.0),
            ("Eta", rng.uniform(-2.5, 2.5, n)),
            ("Phi", rng.uniform(-np.pi, np.pi, n)),
        )
    }
    flat["MET"] = rng.exponential(20.0, n).astype(np.float32)
    flat["METPhi"] = rng.uniform(-np.pi, np.pi, n).astype(np.float32)
    counts = rng.choice([0, 1, 2, 3], size=n, p=[0.3, 0.3, 0.25, 0.15])
    total = int(counts.sum())
    flat["Jet_PT"] = ak.unflatten(rng.exponential(40.0, total).astype(np.float32), counts)
    flat["Jet_Eta"] = ak.unflatten(rng.uniform(-4, 4, total).astype(np.float32), counts)
    return flat


def prepared_task(path: Path, overrides: dict | None = None):
    """The task of the run configuration at ``path`` (with ``overrides``), prepared with
    fitting in its run directory, as the trainer does before training."""
    from smartml.config import load_config
    from smartml.registry import TASKS
    from smartml.runs.directory import RunDirectory

    config = load_config(path, overrides or {})
    run = RunDirectory(config.run_dir())
    run.path.mkdir(parents=True, exist_ok=True)
    task = TASKS.get(config.task.name)(config, run)
    task.prepare(fit=True)
    return task


def tiny_classifier_config(tmp_path: Path) -> Path:
    """configs/ntuple_dy_ttbar.json shrunk to a 1-epoch run of 800 events in
    ``tmp_path/run``, plots off; returns the written config's path."""
    content = json.loads(
        (Path(__file__).parents[1] / "configs" / "ntuple_dy_ttbar.json").read_text()
    )
    content["data"]["simulation"].update(n_signal=400, n_background=400)
    content["training"].update(epochs=1, batch_size=64)
    content["output"] = {"dir": str(tmp_path / "run"), "plots": False}
    path = tmp_path / "classifier.json"
    path.write_text(json.dumps(content))
    return path
