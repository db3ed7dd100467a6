"""Speed and precision of the Matrix-Element-Method integrator on generated Drell–Yan events.

Generates ``--events`` Drell–Yan events with the built-in generator
(:func:`smartml.collider.event_generator.generate_drell_yan`, default settings: LO
with the ISR recoil), integrates each one's weight in this process (one worker) with
the transfer functions of the generator's smearing and its recoil spectrum
(``--strict-lo``: the back-to-back LO weight instead), and prints one JSON object:
integrator seconds per event, the fraction of events with a finite positive weight,
the median (and 68%/95% quantiles) of the relative uncertainty σ(w)/w, and the
events' recoil (median and largest qT of the reconstructed muons).

    python benchmarks/mem_integrator.py [--events 50] [--neval 4000] [--seed 1] [--strict-lo]
"""

import argparse
import json
import time

import numpy as np

from smartml.collider import matrix_element_method as mem
from smartml.collider.event_generator import generate_drell_yan
from smartml.collider.generation_config import GenerationConfig


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50, help="events to integrate")
    parser.add_argument("--neval", type=int, default=mem.MemSettings().neval)
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated events")
    parser.add_argument(
        "--strict-lo", action="store_true", help="integrate the back-to-back LO weight"
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    config = GenerationConfig(seed=args.seed)
    events = generate_drell_yan(args.events, args.seed, config)
    settings = mem.MemSettings(
        neval=args.neval,
        resolutions=mem.MuonResolutions.from_generation_config(config),
        sqrt_s_gev=config.sqrt_s_gev,
        recoil=None if args.strict_lo else config.recoil,
    )
    results = []
    started = time.perf_counter()
    for entry in range(args.events):
        event = {key: float(events[key][entry]) for key in mem.MUON_BRANCHES}
        results.append(mem.mem_weight(event, settings, stream=entry))
    seconds = time.perf_counter() - started
    weights, errors = np.array(results).T
    good = np.isfinite(weights) & (weights > 0)
    relative = errors[good] / weights[good] if good.any() else np.array([np.nan])
    measured_qt = np.hypot(
        events["lep1_PT"] * np.cos(events["lep1_Phi"])
        + events["lep2_PT"] * np.cos(events["lep2_Phi"]),
        events["lep1_PT"] * np.sin(events["lep1_Phi"])
        + events["lep2_PT"] * np.sin(events["lep2_Phi"]),
    )
    print(
        json.dumps(
            {
                "events": args.events,
                "neval": settings.neval,
                "iterations": [settings.nitn_adapt, settings.nitn],
                "recoil": settings.recoil is not None,
                "seconds_per_event": round(seconds / args.events, 4),
                "relative_uncertainty_median": float(np.median(relative)),
                "relative_uncertainty_q68": float(np.quantile(relative, 0.68)),
                "relative_uncertainty_q95": float(np.quantile(relative, 0.95)),
                "zero_or_non_finite": int((~good).sum()),
                "finite_positive_fraction": float(good.mean()),
                "median_qt_gev": float(np.median(measured_qt)),
                "max_qt_gev": float(np.max(measured_qt)),
                "median_minus_log10_weight": float(np.median(-np.log10(weights[good])))
                if good.any()
                else None,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
