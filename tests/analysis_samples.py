"""Two samples shaped like public analysis files, from the built-in generator, renamed.

- a flat Z→μμ-like tree: ``pt1, eta1, phi1, pt2, eta2, phi2`` (Drell–Yan events);
- a jagged H→ZZ-like tree: ``Muon_Px[], Muon_Py[], Muon_Pz[]`` (two muons per event,
  t t̄ dilepton events) and an ``EventWeight`` branch, a fifth of it negative (as an
  NLO generator writes);

and the ``ntuple_classifier`` configuration that trains on them with branch aliases
and per-event weights (used by tests/test_classifier_weights_aliases.py and
benchmarks/classifier_weights_aliases.py).
"""

from pathlib import Path

import awkward as ak
import numpy as np

from smartml.collider.event_generator import generate_drell_yan, generate_ttbar_dilepton
from smartml.collider.generation_config import GenerationConfig
from tests.ntuple_files import write_tree

ZMUMU_XS_PB, HZZ_XS_PB, LUMINOSITY_PER_PB = 2000.0, 50.0, 10.0
NEGATIVE_FRACTION = 0.2


def write_zmumu(path: Path, n: int, seed: int) -> Path:
    """Drell–Yan events with the muons' branches named ``pt1 … phi2`` (flat)."""
    events = generate_drell_yan(n, seed, GenerationConfig())
    branches = {
        f"{variable}{lepton}": np.asarray(events[f"lep{lepton}_{source}"], np.float32)
        for lepton in (1, 2)
        for variable, source in (("pt", "PT"), ("eta", "Eta"), ("phi", "Phi"))
    }
    return write_tree(path, branches, chunk=max(1, n // 4))


def write_hzz(path: Path, n: int, seed: int) -> Path:
    """t t̄ events with the muons as Cartesian jagged branches and a signed
    ``EventWeight`` (|w| in [0.5, 1.5], negative for :data:`NEGATIVE_FRACTION`)."""
    events = generate_ttbar_dilepton(n, seed, GenerationConfig())
    pt = np.stack([events["lep1_PT"], events["lep2_PT"]], axis=1).astype(np.float64)
    eta = np.stack([events["lep1_Eta"], events["lep2_Eta"]], axis=1).astype(np.float64)
    phi = np.stack([events["lep1_Phi"], events["lep2_Phi"]], axis=1).astype(np.float64)
    counts = np.full(n, 2)
    components = {
        "Muon_Px": pt * np.cos(phi),
        "Muon_Py": pt * np.sin(phi),
        "Muon_Pz": pt * np.sinh(eta),
    }
    rng = np.random.default_rng(seed)
    sign = np.where(rng.uniform(size=n) < NEGATIVE_FRACTION, -1.0, 1.0)
    branches = {
        name: ak.unflatten(values.reshape(-1).astype(np.float32), counts)
        for name, values in components.items()
    }
    branches["EventWeight"] = (sign * rng.uniform(0.5, 1.5, n)).astype(np.float32)
    return write_tree(path, branches, chunk=max(1, n // 4))


def zmumu_aliases() -> dict:
    """The features' muon names -> the flat Z→μμ branches."""
    return {
        f"lep{lepton}_{name}": f"{variable}{lepton}"
        for lepton in (1, 2)
        for name, variable in (("PT", "pt"), ("Eta", "eta"), ("Phi", "phi"))
    }


def hzz_aliases() -> dict:
    """The features' muon names -> (pT, η, φ) computed from the jagged components."""
    aliases = {}
    for lepton in (1, 2):
        px, py, pz = (f"Muon_P{axis}[{lepton - 1}]" for axis in "xyz")
        aliases[f"lep{lepton}_PT"] = {"pt_from": [px, py]}
        aliases[f"lep{lepton}_Eta"] = {"eta_from": [px, py, pz]}
        aliases[f"lep{lepton}_Phi"] = {"phi_from": [px, py]}
    return aliases


def classifier_config(
    directory: Path, n: int, seed: int = 1, epochs: int = 3, **data: object
) -> dict:
    """Write both files under ``directory`` and return the classifier's run config
    (default features: both muons' pT and η, their mass and azimuthal difference)."""
    zmumu = write_zmumu(directory / "zmumu.root", n, seed)
    hzz = write_hzz(directory / "hzz.root", n, seed + 1)
    return {
        "name": "weights_aliases",
        "task": {"name": "ntuple_classifier"},
        "data": {
            "source": "files",
            "samples": [
                {
                    "name": "zmumu",
                    "files": [str(zmumu)],
                    "label": "signal",
                    "aliases": zmumu_aliases(),
                    "weight": {
                        "cross_section_pb": ZMUMU_XS_PB,
                        "luminosity_per_pb": LUMINOSITY_PER_PB,
                        "normalize": "sum_of_weights",
                    },
                },
                {
                    "name": "hzz",
                    "files": [str(hzz)],
                    "label": "background",
                    "aliases": hzz_aliases(),
                    "weight": {
                        "branch": "EventWeight",
                        "cross_section_pb": HZZ_XS_PB,
                        "luminosity_per_pb": LUMINOSITY_PER_PB,
                        "normalize": "sum_of_weights",
                    },
                },
            ],
            "entries_per_chunk": max(1, n // 8),
            **data,
        },
        "model": {"name": "mlp", "hidden_units": [16]},
        "training": {"epochs": epochs, "batch_size": 64, "learning_rate": 0.01, "verbose": 0},
        "output": {"dir": str(directory / "run"), "plots": False},
    }
