"""Speed and precision of the Matrix-Element-Method integrator on generated Drell–Yan events.

Generates ``--events`` LO Drell–Yan events with the built-in generator
(:func:`smartml.collider.event_generator.generate_drell_yan`, default settings),
integrates each one's weight in this process (one worker) with the transfer
functions of the generator's smearing, and prints one JSON object: integrator
seconds per event and the median (and 68%/95% quantiles) of the relative
uncertainty σ(w)/w, with the number of events whose weight is zero or not finite.

    python benchmarks/mem_integrator.py [--events 50] [--neval 4000] [--seed 1]
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
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    config = GenerationConfig(seed=args.seed)
    events = generate_drell_yan(args.events, args.seed, config)
    settings = mem.MemSettings(
        neval=args.neval,
        resolutions=mem.MuonResolutions.from_generation_config(config),
        sqrt_s_gev=config.sqrt_s_gev,
    )
    results = []
    started = time.perf_counter()
    for entry in range(args.events):
        event = {key: float(events[key][entry]) for key in mem.MUON_BRANCHES}
        results.append(mem.mem_weight(event, settings, stream=entry))
    seconds = time.perf_counter() - started
    weights, errors = np.array(results).T
    good = np.isfinite(weights) & (weights > 0)
    relative = errors[good] / weights[good]
    print(
        json.dumps(
            {
                "events": args.events,
                "neval": settings.neval,
                "iterations": [settings.nitn_adapt, settings.nitn],
                "seconds_per_event": round(seconds / args.events, 4),
                "relative_uncertainty_median": float(np.median(relative)),
                "relative_uncertainty_q68": float(np.quantile(relative, 0.68)),
                "relative_uncertainty_q95": float(np.quantile(relative, 0.95)),
                "zero_or_non_finite": int((~good).sum()),
                "median_minus_log10_weight": float(np.median(-np.log10(weights[good]))),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
