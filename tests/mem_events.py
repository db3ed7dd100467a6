"""Dimuon events with LO Drell–Yan kinematics, smeared like the generator's, for the
MEM tests (a small sampler independent of the integrator), and ROOT files of them.

Tests import it as ``from mem_events import ...`` (``tests/`` is on ``sys.path``, see
``conftest.py``).
"""

from pathlib import Path

import numpy as np
import uproot

from smartml.collider import matrix_element_method as mem


def generated_like_events(n, seed, resolutions):
    """DY-like muons: a Breit–Wigner mass, a rapidity, a 1 + cos²θ angle, then the
    generator's Gaussian smearing (a small local sampler, independent of the module)."""
    rng = np.random.default_rng(seed)
    mass = np.clip(91.188 + 2.4414 / 2 * rng.standard_cauchy(n), 60.0, 120.0)
    rapidity = rng.uniform(-2.0, 2.0, n)
    cos_theta = rng.uniform(-0.95, 0.95, n)
    gap = 2 * np.arctanh(cos_theta)
    pt = mass / (2 * np.cosh(gap / 2))
    phi = rng.uniform(-np.pi, np.pi, n)

    def smear(values, width):
        return values + width * rng.standard_normal(n)

    return [
        {
            "lep1_PT": float(a),
            "lep1_Eta": float(b),
            "lep1_Phi": float(c),
            "lep2_PT": float(d),
            "lep2_Eta": float(e),
            "lep2_Phi": float(f),
        }
        for a, b, c, d, e, f in zip(
            pt + resolutions.pt_sigma(pt) * rng.standard_normal(n),
            smear(rapidity + gap / 2, resolutions.eta),
            mem.wrap_angle(smear(phi, resolutions.phi)),
            pt + resolutions.pt_sigma(pt) * rng.standard_normal(n),
            smear(rapidity - gap / 2, resolutions.eta),
            mem.wrap_angle(smear(phi + np.pi, resolutions.phi)),
            strict=True,
        )
    ]


def write_events(path: Path, events: list[dict[str, float]], tree: str = "events") -> Path:
    """A ROOT file with one float64 branch per key of the events, in tree ``tree``."""
    keys = list(events[0])
    with uproot.recreate(path) as root_file:
        root_file.mktree(tree, {key: np.float64 for key in keys})
        root_file[tree].extend({key: np.array([event[key] for event in events]) for key in keys})
    return path
