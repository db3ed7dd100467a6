"""Dimuon events with LO Drell–Yan kinematics and an ISR recoil, smeared like the
generator's, for the MEM tests (a small sampler independent of the integrator and of
the generator's kinematics), and ROOT files of them.

Tests import it as ``from mem_events import ...`` (``tests/`` is on ``sys.path``, see
``conftest.py``).
"""

import json
from pathlib import Path

import numpy as np
import uproot

from smartml.collider import matrix_element_method as mem
from smartml.collider import mem_integration


def lorentz_boost(p4, velocity):
    """(n, 4) four-vectors (E, px, py, pz) boosted by (n, 3) ``velocity`` (the frame
    where a particle at rest moves with ``velocity``)."""
    beta2 = np.sum(velocity**2, axis=1)
    gamma = 1.0 / np.sqrt(1.0 - beta2)
    beta_p = np.sum(velocity * p4[:, 1:], axis=1)
    energy = gamma * (p4[:, 0] + beta_p)
    along = np.where(beta2 > 0, (gamma - 1.0) * beta_p / np.where(beta2 > 0, beta2, 1.0), 0.0)
    space = p4[:, 1:] + (along + gamma * p4[:, 0])[:, None] * velocity
    return np.concatenate([energy[:, None], space], axis=1)


def true_dimuons(n, seed, recoil_scale_gev=9.0, recoil_power=2.0):
    """True muons: a Breit–Wigner mass, a rapidity, a decay angle, and a transverse
    momentum ``qT`` with ``P(qT' > qT) = (1 + qT²/a²)^(1−b)`` (None: back to back).

    Returns:
        two (n, 4) arrays (muon 1, muon 2) and the (n,) qT.
    """
    rng = np.random.default_rng(seed)
    mass = np.clip(91.188 + 2.4414 / 2 * rng.standard_cauchy(n), 60.0, 120.0)
    rapidity = rng.uniform(-2.0, 2.0, n)
    cos_theta = rng.uniform(-0.95, 0.95, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    sin_theta = np.sqrt(1 - cos_theta**2)
    direction = np.stack([sin_theta * np.cos(phi), sin_theta * np.sin(phi), cos_theta], axis=1)
    first = np.concatenate([mass[:, None] / 2, mass[:, None] / 2 * direction], axis=1)
    second = np.concatenate([mass[:, None] / 2, -mass[:, None] / 2 * direction], axis=1)
    qt = np.zeros(n)
    if recoil_scale_gev is not None:
        survival = rng.uniform(size=n)
        qt = recoil_scale_gev * np.sqrt(survival ** (1 / (1 - recoil_power)) - 1)
    azimuth = rng.uniform(-np.pi, np.pi, n)
    transverse_mass = np.sqrt(mass**2 + qt**2)
    across = np.stack([qt * np.cos(azimuth), qt * np.sin(azimuth), np.zeros(n)], axis=1)
    along_z = np.stack([np.zeros(n), np.zeros(n), np.tanh(rapidity)], axis=1)
    return (
        *(
            lorentz_boost(lorentz_boost(p, across / transverse_mass[:, None]), along_z)
            for p in (first, second)
        ),
        qt,
    )


def generated_like_events(n, seed, resolutions, recoil_scale_gev=9.0):
    """DY-like muons (:func:`true_dimuons`; ``recoil_scale_gev`` None: back to back),
    then the generator's Gaussian smearing."""
    muons = true_dimuons(n, seed, recoil_scale_gev)[:2]
    rng = np.random.default_rng([seed, 1])
    columns = []
    for p in muons:
        pt = np.hypot(p[:, 1], p[:, 2])
        columns += [
            pt + resolutions.pt_sigma(pt) * rng.standard_normal(n),
            np.arcsinh(p[:, 3] / pt) + resolutions.eta * rng.standard_normal(n),
            mem.wrap_angle(np.arctan2(p[:, 2], p[:, 1]) + resolutions.phi * rng.standard_normal(n)),
        ]
    return [
        {key: float(value) for key, value in zip(mem.MUON_BRANCHES, row, strict=True)}
        for row in zip(*columns, strict=True)
    ]


def write_events(path: Path, events: list[dict[str, float]], tree: str = "events") -> Path:
    """A ROOT file with one float64 branch per key of the events, in tree ``tree``."""
    keys = list(events[0])
    with uproot.recreate(path) as root_file:
        root_file.mktree(tree, {key: np.float64 for key in keys})
        root_file[tree].extend({key: np.array([event[key] for event in events]) for key in keys})
    return path


def read_weights(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weights, errors, status) of the weight tree a MEM integration wrote."""
    branches = [
        mem_integration.WEIGHT_BRANCH,
        mem_integration.ERROR_BRANCH,
        mem_integration.STATUS_BRANCH,
    ]
    with uproot.open(path) as root_file:
        arrays = root_file[mem_integration.WEIGHT_TREE].arrays(branches, library="np")
    return tuple(arrays[branch] for branch in branches)


def mem_run_config(
    tmp_path: Path,
    events_file: Path,
    weights_file: Path,
    *,
    entries_per_chunk: int,
    speed_events: int,
    model: dict,
    plots: bool,
    training: dict | None = None,
    **data,
) -> Path:
    """A mem_regression run configuration on a user's events and weight files, written
    to ``tmp_path/mem.json`` (the run goes to ``tmp_path/run``).

    Args:
        entries_per_chunk, speed_events: the data section's reading chunk and the
            number of events whose MEM integration is timed.
        model, training: the ``model`` and (when given) ``training`` sections.
        plots: whether the evaluation draws figures.
        data: keys added to or replacing those of the data section.
    """
    content = {
        "name": "mem",
        "task": {"name": "mem_regression"},
        "data": {
            "source": "files",
            "files": [str(events_file)],
            "weights": {"files": [str(weights_file)]},
            "entries_per_chunk": entries_per_chunk,
            "simulation": {
                "speed_events": speed_events,
                "mem": {"neval": 500, "nitn_adapt": 2, "nitn": 2},
            },
            **data,
        },
        "model": model,
        **({"training": training} if training else {}),
        "output": {"dir": str(tmp_path / "run"), "plots": plots},
    }
    path = tmp_path / "mem.json"
    path.write_text(json.dumps(content))
    return path
