"""Built-in smart-pixel cluster simulator: tracks -> ionisation -> drift -> time slices.

The public smart-pixels dataset was made with PixelAV; this module writes clusters in
exactly its parquet layout (:mod:`smartml.tasks.smart_pixels.layout`) from a fast, vectorised
physics model, so that every run config has data without a download. All numbers
below are for the default
:class:`~smartml.tasks.smart_pixels.schema.SimulationConfig`.

>>> from smartml.tasks.smart_pixels.schema import SensorConfig, SimulationConfig
>>> pixels, labels = simulate_clusters(SimulationConfig(), 3, np.random.default_rng(0))
>>> pixels.shape, pixels.dtype, list(labels.columns[:4])
((3, 20, 13, 21), dtype('float32'), ['x-midplane', 'y-midplane', 'cotAlpha', 'cotBeta'])
>>> drift = drift_model(SensorConfig())
>>> round(drift.tan_lorentz, 3), round(drift.velocity_um_per_ps * 1e3, 1)  # -, µm/ns
(0.338, 77.3)

Geometry and coordinates
------------------------
A planar sensor of thickness ``T`` (100 µm) with a window of 13 rows x 21 columns.
Local frame, right-handed: x along the beam and the magnetic field (rows, pitch
50 µm), y the bending direction (columns, pitch 12.5 µm), z the sensor normal pointing
away from the beam; ``x = y = 0`` is the centre of the window, i.e. of pixel
(row 6, column 10), and z runs from ``0`` (back face, towards the beam) to ``T``
(pixel face, where electrons are collected). Row ``r`` spans
``x in [(r - 6.5), (r - 5.5)) * pitch_x``, column ``c`` spans
``y in [(c - 10.5), (c - 9.5)) * pitch_y``.

The barrel layer is a 12-sided polygon of flat modules whose faces touch the circle
of radius ``layer_radius_mm`` (30 mm); a face is ``2 r tan 15°`` wide (16 mm). The
window centre sits at ``y-local`` (µm, uniform over the face) along the module.

Tracks (units: GeV, mm, T)
--------------------------
- ``|pT|`` from ``dN/dpT ~ pT^-index`` on ``[pt_min, pt_max]`` (inverse CDF), charge
  ``q = ±1`` with equal probability; the particle is taken to be a charged pion.
- The track crosses the sensor mid-plane (z = T/2) uniformly inside pixel (6, 10):
  ``x-midplane``, ``y-midplane`` in µm from the window centre.
- Transverse plane: the hit is at ``(r, y_hit)`` on the face, at radius ``ρ`` and at
  angle ``ψ = atan(y_hit / r)`` from the face normal. A helix from the beam line has
  radius ``R = pT / (0.3 B)`` (m) and crosses radius ``ρ`` at ``φ_rel`` to the radial
  direction with ``sin φ_rel = ρ / 2R``; positive tracks turn towards +y for B > 0, so
  the direction makes ``θ = ψ + q φ_rel`` with the module normal.
- Along the beam: ``|η| < eta_max`` is uniform for the hit *position* seen from the
  nominal interaction point (the layer spans that η range), the hit is at global
  ``z = ρ sinh η``, and the track comes from a vertex at ``z0 ~ Normal(0,
  beamspot_sigma_z_mm)``, so ``pz / pT = (ρ sinh η - z0) / s`` with ``s`` the
  transverse arc length. The beam-spot length thus spreads the angles seen at any one
  place, as in a real layer 1.
- Local direction ``n ∝ (pz, pT sin θ, pT cos θ)`` (``n_x, n_y, n_z``), so
  ``cotAlpha = n_x / n_z`` and ``cotBeta = n_y / n_z = tan θ``. The entry point
  (``x-entry``, ``y-entry``, ``z-entry = 0``) is on the straight line through the
  mid-plane point; ``pt`` is ``q |pT|``.

Ionisation (Landau-Vavilov straggling, PDG "Passage of particles through matter")
--------------------------------------------------------------------------------
Per µm of silicon the Rutherford spectrum of energy transfers is ``ξ / E^2`` with
``ξ = (K/2)(Z/A) ρ / β^2 = 17.8 eV / β^2`` (``β`` of a pion of momentum ``p = pT
cosh η``; the relativistic rise is ignored). The path inside the sensor is cut into
steps of about 1 µm:

- *soft* collisions (``E < 100 eV``) give each step a Gaussian loss of mean
  ``204 eV/µm / β^2`` and variance ``ξ · 100 eV`` per µm;
- *hard* collisions (δ rays, ``E > 100 eV``) form a Poisson process along the path with
  rate ``ξ / 100 eV`` (0.18 per µm), energies from ``1/E^2`` and deposited at the
  collision point (no δ-ray range). A δ electron energetic enough to cross the sensor
  deposits about what a minimum-ionising particle does, so a single deposit is capped
  at ``T x 388 eV/µm`` (``dE/dx_min`` of silicon).

The sum over the path is a Landau distribution of most probable value
``Δp = soft mean + ξ (ln(ξ / 100 eV) + 0.200)``; the soft mean is set so that a
perpendicular minimum-ionising track in 100 µm has ``Δp = 72 e-h pairs per µm``
(Bichsel, Rev. Mod. Phys. 60 (1988) 663), which then gives 77 e/µm in 300 µm (as
measured) and a mean of about 91 e/µm. Energy becomes ``E / 3.6 eV`` electron-hole
pairs (no Fano fluctuation: 0.1 of Poisson, negligible beside straggling);
``number_eh_pairs`` is the total over the whole path, before any loss.

Drift to the pixels (electrons only, collected at z = T)
--------------------------------------------------------
- The field is taken uniform, ``E = bias / T`` (a fully over-depleted sensor; the real
  field is larger near the junction, which shortens the drift of the charge created
  there).
- Mobility of electrons from the Jacoboni-Canali parametrisation (Solid-State
  Electron. 20 (1977) 77): ``μ(E) = μ_0 / (1 + (E/E_c)^b)^(1/b)`` with
  ``v_m = 1.53e9 T^-0.87 cm/s``, ``E_c = 1.01 T^1.55 V/cm``, ``b = 2.57e-2 T^0.66``,
  ``μ_0 = v_m / E_c`` (T in K). Default: 773 cm²/Vs, ``v = μ E`` = 77 µm/ns, the
  farthest charge arrives after 1.3 ns (slice 6).
- Lorentz drift: ``tan θ_L = hall_factor · μ · B`` (μ in m²/Vs). In this right-handed
  frame the force ``-e v x B`` on electrons moving to +z in a field along +x points to
  **-y**, so charge created at depth z lands ``(T - z) tan θ_L`` towards -y for B > 0
  (the same sign of field that bends positive tracks towards +y; only this relative
  sign is physical). A perpendicular track's cluster shifts by ``T/2 · tan θ_L`` =
  17 µm.
- Diffusion: ``σ = sqrt(2 D t)`` in x and y with ``D = μ kT/q`` (Einstein relation with
  the field-dependent μ) and drift time ``t = (T - z) / v`` (2.1 µm for the full
  thickness). Each ~1 µm step drifts as one point charge with its own Gaussian
  displacement.

Time slices, noise and threshold
--------------------------------
Slice ``k`` (``k = 0..19``, ``time_slice_ps`` = 200 ps each) holds the charge that has
*arrived* by the end of the slice, ``t < (k + 1) · time_slice_ps``, binned into the
13 x 21 pixels (``np.bincount`` on flat indices); charge outside the window, or
arriving after the 20th slice, is lost. Each readout (pixel and slice) then gets its
own independent Gaussian noise of RMS ``noise_electrons`` on the cumulative value, and
a pixel whose noisy value is below ``threshold_electrons`` reads 0 in that slice. So
the cumulative values of one pixel are monotonic only up to noise, and an empty pixel
can fire on noise alone: with 75 e noise and a 400 e threshold that happens with
probability 5e-8 per readout. It is sampled exactly without drawing 5460 normals per
cluster: the readouts of pixels that collect charge get explicit noise, and among all
the others the ones above threshold are a Binomial number of random readouts with
values from the Gaussian tail.

Compared with PixelAV
---------------------
PixelAV (M. Swartz, Nucl. Instrum. Meth. A 511 (2003) 88) uses Bichsel's tabulated
cross sections, δ rays with range and direction, a TCAD electric field map, hole
drift, charge trapping, induced (Ramo) currents and a model of the front end. This
simulator has none of these: uniform field, point-like δ deposits, electrons only,
arrival time instead of induced current, pion mass for all tracks, no multiple
scattering or nuclear interactions, no radiation damage, and Gaussian noise without
time correlation. It reproduces the features a network learns from - charge-sharing
between pixels, cluster length ``T |cotAlpha| / pitch_x``, the Lorentz shift and width
in y, Landau fluctuations and the depth-ordered arrival times - but not PixelAV's
detailed response; train on the real data before drawing physics conclusions.

Files
-----
:func:`write_dataset` writes ``part.<i>.parquet`` files (``parts`` layout: float32
pixel columns "0".."5459" then the label columns, row groups of ``rows_per_group``) and
a ``simulation.json`` manifest into a hidden sibling directory renamed into place
at the end, so a half-written dataset never looks complete. :func:`ensure_simulated`
caches one dataset per simulation settings under ``root`` (:func:`simulation_dir`),
through the generic dataset cache :mod:`smartml.data.cache`.
"""

import logging
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.special import ndtr, ndtri

from smartml import __version__
from smartml.console import progress
from smartml.data.cache import GeneratorCache
from smartml.errors import ConfigError
from smartml.tasks.smart_pixels.layout import (
    EXTRA_LABELS,
    N_PIXEL_COLUMNS,
    PIXELS_PER_SLICE,
    TARGETS,
)
from smartml.tasks.smart_pixels.schema import (
    N_COLUMNS,
    N_ROWS,
    N_TIME_SLICES,
    SensorConfig,
    SimulationConfig,
    TrackConfig,
)

log = logging.getLogger(__name__)

# Bump when the physics or the file format changes: it is part of the cache key, so
# old cached datasets are then simulated again instead of silently reused.
SIMULATOR_VERSION = 1
MANIFEST_NAME = "simulation.json"
CACHE_PREFIX = "pixelsim"
CACHE = GeneratorCache(
    identity={"format": "smartml-pixel-simulation", "simulator_version": SIMULATOR_VERSION},
    prefix=CACHE_PREFIX,
    kind="simulated",
    what="the simulated dataset",
    manifest_name=MANIFEST_NAME,
    owned_files=r"part\.\d+\.parquet|" + re.escape(MANIFEST_NAME),
)
LABEL_COLUMNS = (*TARGETS, *EXTRA_LABELS)
# Clusters simulated together: large enough that numpy's per-call overhead vanishes,
# small enough that a batch's arrays (~50 MB) stay near the caches; 500-1000 measured
# up to 1.5x faster than 2000.
BATCH_SIZE = 1000
# Measured on 10k default clusters, one core (benchmarks/pixel_simulator.py
# --compare-compression; the machine was shared, so times are +-30%), writing s/10k and
# bytes/cluster: snappy 0.30 s, 1742 B; lz4 0.31 s, 898 B; zstd-1 0.54 s, 689 B;
# zstd-3 0.61 s, 692 B. Snappy caps its ratio near 20:1, which these mostly-zero columns
# exceed. zstd-1 is the smallest and reads as fast; its extra ~0.25 s/10k is ~7 s on the
# default 300k clusters.
# Statistics and dictionaries do not help float charge and would bloat the footer
# (already ~350 kB per row group for 5473 column chunks), as would the Arrow schema.
PARQUET_OPTIONS = {
    "compression": "zstd",
    "compression_level": 1,
    "use_dictionary": False,
    "write_statistics": False,
    "store_schema": False,
}

# --- physical constants -----------------------------------------------------------
PAIR_ENERGY_EV = 3.6  # mean energy per electron-hole pair in silicon
PION_MASS_GEV = 0.13957
BOLTZMANN_EV_PER_K = 8.617333e-5
# ξ per µm of silicon for β = 1: (K/2)(Z/A)ρ with K = 0.307075 MeV cm²/mol,
# Z/A = 0.49848, ρ = 2.329 g/cm³ (PDG).
XI_EV_PER_UM = 0.5 * 0.307075e6 * 0.49848 * 2.329e-4
MIP_DEDX_EV_PER_UM = 1.664e6 * 2.329e-4  # minimum ionisation, 388 eV/µm
DELTA_RAY_CUT_EV = 100.0  # soft (Gaussian) below, explicit δ rays above
# Landau most probable loss of a perpendicular MIP in 100 µm (Bichsel 1988).
MPV_PAIRS_PER_UM_100UM = 72.0
SOFT_LOSS_EV_PER_UM = MPV_PAIRS_PER_UM_100UM * PAIR_ENERGY_EV - XI_EV_PER_UM * (
    math.log(100.0 * XI_EV_PER_UM / DELTA_RAY_CUT_EV) + 0.200
)
STEP_UM = 1.0
# Diffusion tails beyond this many σ are ignored when clipping the path to the window.
DIFFUSION_MARGIN_SIGMAS = 6.0
LAYER_FACES = 12
MAX_ANGLE_TO_NORMAL_DEG = 80.0
# Above this probability of a noise-only hit per readout, noise is drawn for every
# readout instead of sampling the rare hits (same distribution, different draws).
SPARSE_NOISE_MAX_PROBABILITY = 1e-3


# --- drift ------------------------------------------------------------------------
def electron_mobility(field_v_per_cm: float, temperature_k: float) -> float:
    """Electron drift mobility in silicon, Jacoboni-Canali parametrisation.

    Args:
        field_v_per_cm: electric field (V/cm).
        temperature_k: lattice temperature (K).

    Returns:
        Mobility in cm²/(V s).

    >>> round(electron_mobility(1.0, 300.0))  # low-field limit
    1534
    >>> round(electron_mobility(1e4, 263.0))
    773
    """
    saturation_velocity = 1.53e9 * temperature_k**-0.87  # cm/s
    critical_field = 1.01 * temperature_k**1.55  # V/cm
    exponent = 2.57e-2 * temperature_k**0.66
    low_field_mobility = saturation_velocity / critical_field
    ratio = (field_v_per_cm / critical_field) ** exponent
    return low_field_mobility / (1.0 + ratio) ** (1.0 / exponent)


@dataclass(frozen=True)
class DriftModel:
    """Drift of electrons in a uniform field, derived from a :class:`SensorConfig`.

    Attributes:
        mobility_cm2_per_vs: field-dependent electron mobility.
        velocity_um_per_ps: drift velocity along z.
        tan_lorentz: ``tan θ_L = hall_factor μ B``; charge lands towards -y for > 0.
        diffusion_um_per_sqrt_um: ``σ = this · sqrt(drift distance in µm)``.
    """

    mobility_cm2_per_vs: float
    velocity_um_per_ps: float
    tan_lorentz: float
    diffusion_um_per_sqrt_um: float


def drift_model(sensor: SensorConfig) -> DriftModel:
    """Mobility, velocity, Lorentz angle and diffusion of the sensor's electrons."""
    field = sensor.bias_voltage_v / (sensor.thickness_um * 1e-4)  # V/cm
    mobility = electron_mobility(field, sensor.temperature_k)
    velocity = mobility * field * 1e-8  # cm/s -> µm/ps
    diffusion = mobility * BOLTZMANN_EV_PER_K * sensor.temperature_k * 1e-4  # µm²/ps
    return DriftModel(
        mobility_cm2_per_vs=mobility,
        velocity_um_per_ps=velocity,
        tan_lorentz=sensor.hall_factor * mobility * 1e-4 * sensor.magnetic_field_t,
        diffusion_um_per_sqrt_um=math.sqrt(2.0 * diffusion / velocity),
    )


# --- tracks -----------------------------------------------------------------------
@dataclass
class _Tracks:
    """Per-cluster truth, arrays of length n (µm for positions, GeV for momenta)."""

    charge: np.ndarray
    pt: np.ndarray
    x_mid: np.ndarray
    y_mid: np.ndarray
    y_local: np.ndarray
    cot_alpha: np.ndarray
    cot_beta: np.ndarray
    direction: tuple[np.ndarray, np.ndarray, np.ndarray]
    inverse_beta2: np.ndarray


def _face_half_width_mm(tracks: TrackConfig) -> float:
    return tracks.layer_radius_mm * math.tan(math.pi / LAYER_FACES)


def minimum_pt_gev(sensor: SensorConfig, tracks: TrackConfig) -> float:
    """Lowest pT whose tracks reach the face corner below 80° to the module normal.

    >>> round(minimum_pt_gev(SensorConfig(), TrackConfig()), 4)
    0.0195
    """
    half_width = _face_half_width_mm(tracks)
    rho_max_m = math.hypot(tracks.layer_radius_mm, half_width) * 1e-3
    psi_max = math.atan(half_width / tracks.layer_radius_mm)
    max_bend = math.radians(MAX_ANGLE_TO_NORMAL_DEG) - psi_max
    return 0.3 * abs(sensor.magnetic_field_t) * rho_max_m / (2.0 * math.sin(max_bend))


def _check_tracks(config: SimulationConfig) -> None:
    lowest = minimum_pt_gev(config.sensor, config.tracks)
    if config.tracks.pt_min_gev < lowest:
        raise ConfigError(
            f"data.simulation.tracks.pt_min_gev={config.tracks.pt_min_gev:g}: tracks "
            f"below {lowest:.3g} GeV curl up before crossing the layer at "
            f"{config.tracks.layer_radius_mm:g} mm in {config.sensor.magnetic_field_t:g} T "
            f"within {MAX_ANGLE_TO_NORMAL_DEG:g}° of the module normal; raise it"
        )


def _power_law(rng: np.random.Generator, n: int, low: float, high: float, index: float):
    """Inverse-CDF samples of dN/dx ~ x^-index on [low, high]."""
    u = rng.random(n)
    if abs(index - 1.0) < 1e-9:
        return low * (high / low) ** u
    power = 1.0 - index
    return (low**power + u * (high**power - low**power)) ** (1.0 / power)


def _sample_tracks(config: SimulationConfig, n: int, rng: np.random.Generator) -> _Tracks:
    sensor, tracks = config.sensor, config.tracks
    charge = rng.integers(0, 2, n) * 2.0 - 1.0
    pt = _power_law(rng, n, tracks.pt_min_gev, tracks.pt_max_gev, tracks.pt_spectrum_index)
    eta_position = rng.uniform(-tracks.eta_max, tracks.eta_max, n)
    z0_mm = rng.normal(0.0, tracks.beamspot_sigma_z_mm, n)
    half_width_um = _face_half_width_mm(tracks) * 1e3
    y_local = rng.uniform(-half_width_um, half_width_um, n)
    x_mid = rng.uniform(-0.5, 0.5, n) * sensor.pitch_x_um
    y_mid = rng.uniform(-0.5, 0.5, n) * sensor.pitch_y_um

    radius = tracks.layer_radius_mm
    y_hit_mm = (y_local + y_mid) * 1e-3
    rho = np.hypot(radius, y_hit_mm)
    curvature = 0.3 * sensor.magnetic_field_t / pt * 1e-3  # 1/mm, sign of B
    half_chord = np.abs(curvature) * rho / 2.0  # sin φ_rel
    theta = np.arctan2(y_hit_mm, radius) + charge * np.sign(curvature) * np.arcsin(half_chord)
    # Transverse arc length from the beam line: 2R asin(ρ/2R) -> ρ for straight tracks.
    safe = np.maximum(half_chord, 1e-12)
    arc = rho * np.where(half_chord > 1e-12, np.arcsin(safe) / safe, 1.0)
    sinh_eta = (rho * np.sinh(eta_position) - z0_mm) / arc
    cosh_eta = np.sqrt(1.0 + sinh_eta**2)
    momentum = pt * cosh_eta
    return _Tracks(
        charge=charge,
        pt=pt,
        x_mid=x_mid,
        y_mid=y_mid,
        y_local=y_local,
        cot_alpha=sinh_eta / np.cos(theta),
        cot_beta=np.tan(theta),
        direction=(sinh_eta / cosh_eta, np.sin(theta) / cosh_eta, np.cos(theta) / cosh_eta),
        inverse_beta2=1.0 + (PION_MASS_GEV / momentum) ** 2,
    )


# --- ionisation -------------------------------------------------------------------
@dataclass
class _Deposits:
    """Point charges before drift: cluster index, depth z (µm), electrons."""

    cluster: np.ndarray
    z: np.ndarray
    electrons: np.ndarray


def _depth_interval(offset, slope, low, high, thickness):
    """Depths z in [0, thickness] where ``offset + slope z`` lies in [low, high]."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z1 = (low - offset) / slope
        z2 = (high - offset) / slope
    flat = slope == 0
    inside = (offset >= low) & (offset <= high)
    start = np.where(flat, np.where(inside, 0.0, thickness), np.minimum(z1, z2))
    stop = np.where(flat, np.where(inside, thickness, 0.0), np.maximum(z1, z2))
    return np.clip(start, 0.0, thickness), np.clip(stop, 0.0, thickness)


def _window_depths(tracks: _Tracks, sensor: SensorConfig, drift: DriftModel):
    """Depth range whose charge can reach the window (the rest is lost anyway).

    Cuts the cost of very inclined tracks and bounds the number of steps per cluster.
    """
    thickness = sensor.thickness_um
    margin = DIFFUSION_MARGIN_SIGMAS * drift.diffusion_um_per_sqrt_um * math.sqrt(thickness)
    half_x = N_ROWS / 2 * sensor.pitch_x_um + margin
    half_y = N_COLUMNS / 2 * sensor.pitch_y_um + margin
    x_entry, y_entry = _entry_point(tracks, thickness)
    start_x, stop_x = _depth_interval(x_entry, tracks.cot_alpha, -half_x, half_x, thickness)
    # Arrival y is linear in z too: y_entry + cotβ z - (T - z) tanθ_L.
    y_offset = y_entry - thickness * drift.tan_lorentz
    y_slope = tracks.cot_beta + drift.tan_lorentz
    start_y, stop_y = _depth_interval(y_offset, y_slope, -half_y, half_y, thickness)
    start = np.maximum(start_x, start_y)
    return start, np.maximum(np.minimum(stop_x, stop_y), start)


def _entry_point(tracks: _Tracks, thickness: float):
    return (
        tracks.x_mid - tracks.cot_alpha * thickness / 2,
        tracks.y_mid - tracks.cot_beta * thickness / 2,
    )


def _soft_loss_ev(path_um, inverse_beta2):
    """Mean and σ (eV) of the loss in collisions below the δ-ray cut over given paths."""
    mean = SOFT_LOSS_EV_PER_UM * inverse_beta2 * path_um
    return mean, np.sqrt(XI_EV_PER_UM * DELTA_RAY_CUT_EV * inverse_beta2 * path_um)


def _ionise(tracks: _Tracks, sensor: SensorConfig, drift: DriftModel, rng):
    """Charge deposits along each track and the total e-h pairs of each cluster.

    Soft losses come in ~1 µm steps over the part of the path whose charge can reach
    the window; the rest of the path only adds to the total (one Gaussian per cluster).
    δ rays are drawn over the whole path.
    """
    n = len(tracks.pt)
    thickness = sensor.thickness_um
    path_per_depth = 1.0 / tracks.direction[2]  # µm of path per µm of depth
    start, stop = _window_depths(tracks, sensor, drift)
    inner_path = (stop - start) * path_per_depth
    outer_path = np.maximum(thickness * path_per_depth - inner_path, 0.0)

    n_steps = np.ceil(inner_path / STEP_UM - 1e-9).astype(np.int64)
    step_depth = np.divide(stop - start, n_steps, out=np.zeros(n), where=n_steps > 0)
    step_mean, step_sigma = _soft_loss_ev(step_depth * path_per_depth, tracks.inverse_beta2)
    cluster = np.repeat(np.arange(n, dtype=np.int32), n_steps)
    first = (np.cumsum(n_steps) - n_steps).astype(np.float32)
    index_in_track = np.arange(len(cluster), dtype=np.float32) - np.repeat(first, n_steps)
    soft_z = np.repeat(start.astype(np.float32), n_steps) + (index_in_track + 0.5) * np.repeat(
        step_depth.astype(np.float32), n_steps
    )
    soft_ev = rng.standard_normal(len(cluster), dtype=np.float32)
    soft_ev *= np.repeat(step_sigma.astype(np.float32), n_steps)
    soft_ev += np.repeat(step_mean.astype(np.float32), n_steps)
    np.maximum(soft_ev, 0.0, out=soft_ev)

    rate = XI_EV_PER_UM * tracks.inverse_beta2 / DELTA_RAY_CUT_EV  # δ rays per µm
    n_delta = rng.poisson(rate * thickness * path_per_depth)
    delta_cluster = np.repeat(np.arange(n, dtype=np.int32), n_delta)
    # Uniform along a straight path is uniform in depth.
    delta_z = rng.random(len(delta_cluster), dtype=np.float32) * np.float32(thickness)
    cap = thickness * MIP_DEDX_EV_PER_UM
    uniform = 1.0 - rng.random(len(delta_cluster), dtype=np.float32)  # in (0, 1]
    delta_ev = np.minimum(np.float32(DELTA_RAY_CUT_EV) / uniform, np.float32(cap))

    outer_mean, outer_sigma = _soft_loss_ev(outer_path, tracks.inverse_beta2)
    outer_ev = np.maximum(outer_mean + outer_sigma * rng.standard_normal(n), 0.0)
    total_ev = (
        np.bincount(cluster, soft_ev, minlength=n)
        + np.bincount(delta_cluster, delta_ev, minlength=n)
        + outer_ev
    )
    deposits = _Deposits(
        cluster=np.concatenate([cluster, delta_cluster]),
        z=np.concatenate([soft_z, delta_z]),
        electrons=np.concatenate([soft_ev, delta_ev]) * np.float32(1.0 / PAIR_ENERGY_EV),
    )
    return deposits, total_ev / PAIR_ENERGY_EV


# --- drift, time slices, noise ----------------------------------------------------
def _n_filled_slices(sensor: SensorConfig, drift: DriftModel) -> int:
    """Slices in which charge can still arrive (later ones repeat the last)."""
    latest = sensor.thickness_um / drift.velocity_um_per_ps / sensor.time_slice_ps
    return min(N_TIME_SLICES, int(latest) + 1)


def _collect(deposits: _Deposits, tracks: _Tracks, sensor, drift, n_slices, rng):
    """Drift the deposits; charge arriving per (cluster, slice, pixel), (n, n_slices, 273).

    One flat index per deposit and one ``np.bincount``; deposits outside the window
    (or arriving after the last slice) go to an extra bin that is dropped.
    """
    n = len(tracks.pt)
    thickness = sensor.thickness_um
    f32 = np.float32
    x_entry, y_entry = _entry_point(tracks, thickness)
    # Row/column coordinates (pixel units, 0 at the window edge) are linear in depth.
    row_offset = (x_entry / sensor.pitch_x_um + N_ROWS / 2).astype(f32)
    row_slope = (tracks.cot_alpha / sensor.pitch_x_um).astype(f32)
    col_offset = (y_entry - thickness * drift.tan_lorentz) / sensor.pitch_y_um + N_COLUMNS / 2
    col_slope = (tracks.cot_beta + drift.tan_lorentz) / sensor.pitch_y_um

    cluster, z = deposits.cluster, deposits.z
    distance = f32(thickness) - z
    sigma = np.sqrt(distance)
    kicks = rng.standard_normal((2, len(z)), dtype=f32)
    row = row_offset[cluster] + row_slope[cluster] * z
    row += kicks[0] * sigma * f32(drift.diffusion_um_per_sqrt_um / sensor.pitch_x_um)
    col = col_offset.astype(f32)[cluster] + col_slope.astype(f32)[cluster] * z
    col += kicks[1] * sigma * f32(drift.diffusion_um_per_sqrt_um / sensor.pitch_y_um)
    per_slice = drift.velocity_um_per_ps * sensor.time_slice_ps  # µm of drift per slice
    time_slice = (distance * f32(1.0 / per_slice)).astype(np.int32)  # distance >= 0
    row_index = np.floor(row).astype(np.int32)
    col_index = np.floor(col).astype(np.int32)
    # Negative indices wrap to huge unsigned values, so one comparison per axis.
    keep = (row_index.view(np.uint32) < N_ROWS) & (col_index.view(np.uint32) < N_COLUMNS)
    keep &= time_slice < n_slices
    n_bins = n * n_slices * PIXELS_PER_SLICE
    flat = (cluster * n_slices + time_slice) * PIXELS_PER_SLICE + row_index * N_COLUMNS
    flat += col_index
    flat = np.where(keep, flat, n_bins)
    counts = np.bincount(flat, deposits.electrons, minlength=n_bins + 1)[:n_bins]
    return counts.reshape(n, n_slices, PIXELS_PER_SLICE)


def _cumulate(increments: np.ndarray, out: np.ndarray) -> None:
    """(n, k, 273) arrivals per slice -> ``out`` (n, 20, 273): charge arrived so far."""
    n_slices = increments.shape[1]
    running = increments[:, 0].copy()  # float64 sums, rounded once per slice
    out[:, 0] = running
    for k in range(1, n_slices):  # ≤ 20 slices, each step vectorised over clusters
        running += increments[:, k]
        out[:, k] = running
    out[:, n_slices:] = out[:, n_slices - 1 : n_slices]


def _noise_hit_probability(sensor: SensorConfig) -> float:
    """Probability that noise alone lifts an empty readout to the threshold."""
    if sensor.noise_electrons == 0:
        return 0.0
    return float(ndtr(-sensor.threshold_electrons / sensor.noise_electrons))


def _digitise(charge: np.ndarray, sensor: SensorConfig, rng: np.random.Generator) -> None:
    """Add independent noise to every readout and apply the threshold, in place.

    Args:
        charge: (n, 20, 273) float32 cumulative charge, noiseless on entry.
        sensor: noise and threshold.
        rng: random stream.
    """
    sigma, threshold = sensor.noise_electrons, sensor.threshold_electrons
    hit_probability = _noise_hit_probability(sensor)
    if hit_probability > SPARSE_NOISE_MAX_PROBABILITY:
        charge += sigma * rng.standard_normal(charge.shape, dtype=np.float32)
        charge[charge < threshold] = 0.0
        return
    # Only pixels that collect charge can be non-zero, apart from rare noise hits.
    flat = np.reshape(charge, -1, copy=False)  # a view: writes must reach ``charge``
    has_charge = charge[:, -1] > 0
    cluster, pixel = np.nonzero(has_charge)
    readouts = (cluster * N_PIXEL_COLUMNS + pixel)[:, None] + PIXELS_PER_SLICE * np.arange(
        N_TIME_SLICES
    )
    values = flat[readouts]
    if sigma > 0:
        values += sigma * rng.standard_normal(values.shape, dtype=np.float32)
    values[values < threshold] = 0.0
    flat[readouts] = values
    if hit_probability > 0:
        _noise_hits(flat, has_charge, sigma, threshold, hit_probability, rng)


def _noise_hits(flat, has_charge, sigma, threshold, hit_probability, rng) -> None:
    """Readouts of empty pixels that noise lifts above threshold, sampled exactly.

    Each readout fires independently with ``hit_probability``: a Binomial number of
    distinct readouts among all of them, kept where the pixel is empty, with values
    from the Gaussian tail above threshold.
    """
    n_hits = rng.binomial(flat.size, hit_probability)
    if n_hits == 0:
        return
    hits = rng.choice(flat.size, size=n_hits, replace=False)
    values = -sigma * ndtri(hit_probability * (1.0 - rng.random(n_hits)))
    values = np.maximum(values, threshold)  # ndtri(ndtr(-a)) may round just below a
    empty = ~has_charge[hits // N_PIXEL_COLUMNS, hits % PIXELS_PER_SLICE]
    flat[hits[empty]] = values[empty]


# --- public simulation API --------------------------------------------------------
def simulate_clusters(
    config: SimulationConfig, n_clusters: int, rng: np.random.Generator
) -> tuple[np.ndarray, pd.DataFrame]:
    """Simulate clusters of charged tracks crossing the sensor.

    Args:
        config: sensor and track settings (``n_clusters`` and the file settings of
            the config are not used here).
        n_clusters: how many clusters.
        rng: source of randomness; the same generator state gives identical output.

    Returns:
        ``pixels``: (n, 20, 13, 21) float32, electrons per (slice, row, column),
        cumulative in time, after noise and threshold; ``labels``: DataFrame with the
        float32 columns ``TARGETS + EXTRA_LABELS`` in that order.

    Raises:
        ConfigError: if ``tracks.pt_min_gev`` is too low for tracks to cross the layer.
    """
    _check_tracks(config)
    if n_clusters < 0:
        raise ValueError(f"n_clusters must be >= 0, got {n_clusters}")
    drift = drift_model(config.sensor)
    pixels = np.empty((n_clusters, N_TIME_SLICES, PIXELS_PER_SLICE), dtype=np.float32)
    batches = [
        _simulate_batch(config, drift, rng, pixels[start : start + BATCH_SIZE])
        for start in range(0, n_clusters, BATCH_SIZE)
    ]
    labels = {
        name: np.concatenate([batch[name] for batch in batches] or [np.zeros(0, np.float32)])
        for name in LABEL_COLUMNS
    }
    return pixels.reshape(n_clusters, N_TIME_SLICES, N_ROWS, N_COLUMNS), pd.DataFrame(labels)


def _simulate_batch(config: SimulationConfig, drift: DriftModel, rng, out: np.ndarray):
    """Fill ``out`` (n, 20, 273) with clusters; return their labels (float32 columns)."""
    sensor = config.sensor
    tracks = _sample_tracks(config, len(out), rng)
    deposits, eh_pairs = _ionise(tracks, sensor, drift, rng)
    _cumulate(_collect(deposits, tracks, sensor, drift, _n_filled_slices(sensor, drift), rng), out)
    _digitise(out, sensor, rng)
    return _labels(tracks, eh_pairs, sensor)


def _labels(tracks: _Tracks, eh_pairs: np.ndarray, sensor: SensorConfig) -> dict:
    x_entry, y_entry = _entry_point(tracks, sensor.thickness_um)
    columns = {
        "x-midplane": tracks.x_mid,
        "y-midplane": tracks.y_mid,
        "cotAlpha": tracks.cot_alpha,
        "cotBeta": tracks.cot_beta,
        "x-entry": x_entry,
        "y-entry": y_entry,
        "z-entry": np.zeros_like(x_entry),
        "n_x": tracks.direction[0],
        "n_y": tracks.direction[1],
        "n_z": tracks.direction[2],
        "number_eh_pairs": eh_pairs,
        "y-local": tracks.y_local,
        "pt": tracks.charge * tracks.pt,
    }
    return {name: columns[name].astype(np.float32) for name in LABEL_COLUMNS}


# --- files ------------------------------------------------------------------------
def _schema() -> pa.Schema:
    names = [str(i) for i in range(N_PIXEL_COLUMNS)] + list(LABEL_COLUMNS)
    return pa.schema([pa.field(name, pa.float32(), nullable=False) for name in names])


def _cluster_table(pixels: np.ndarray, labels: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """Arrow table straight from numpy (pandas with 5460 columns is slow).

    The pixels are transposed once so that every column is a zero-copy slice of one
    Arrow array.
    """
    n = len(pixels)
    by_column = np.ascontiguousarray(pixels.reshape(n, N_PIXEL_COLUMNS).T)
    column_major = pa.array(by_column.reshape(-1))
    arrays = [column_major.slice(i * n, n) for i in range(N_PIXEL_COLUMNS)]
    arrays += [pa.array(labels[name].to_numpy(np.float32)) for name in LABEL_COLUMNS]
    return pa.Table.from_arrays(arrays, schema=schema)


def _part_sizes(config: SimulationConfig) -> list[int]:
    full, rest = divmod(config.n_clusters, config.clusters_per_file)
    return [config.clusters_per_file] * full + ([rest] if rest else [])


def _write_part(
    path: Path, config: SimulationConfig, n: int, rng: np.random.Generator, bar: Any
) -> None:
    """One parquet file of ``n`` clusters, one row group of ``rows_per_group`` at a time
    (``bar``: the progress bar, advanced by each group)."""
    schema = _schema()
    with pq.ParquetWriter(path, schema, **PARQUET_OPTIONS) as writer:
        for start in range(0, n, config.rows_per_group):
            rows = min(config.rows_per_group, n - start)
            pixels, labels = simulate_clusters(config, rows, rng)
            writer.write_table(_cluster_table(pixels, labels, schema), row_group_size=rows)
            bar.update(rows)


def _simulate_into(config: SimulationConfig, directory: Path) -> dict:
    """Write the part files into ``directory``; return the manifest's details.

    File ``i`` is drawn from its own stream ``SeedSequence(config.seed).spawn(n)[i]``.
    """
    _check_tracks(config)
    log.info(
        "simulating %d smart-pixel clusters (seed %d) into %s",
        config.n_clusters,
        config.seed,
        directory,
    )
    started = time.perf_counter()
    sizes = _part_sizes(config)
    streams = np.random.SeedSequence(config.seed).spawn(len(sizes))
    with progress(config.n_clusters, "cluster", "simulating smart-pixel clusters") as bar:
        for index, (size, stream) in enumerate(zip(sizes, streams, strict=True)):
            path = directory / f"part.{index}.parquet"
            _write_part(path, config, size, np.random.default_rng(stream), bar)
    seconds = time.perf_counter() - started
    log.info(
        "simulated %d clusters in %.1f s (%.0f clusters/s including parquet writing)",
        config.n_clusters,
        seconds,
        config.n_clusters / max(seconds, 1e-9),
    )
    return {
        "smartml_version": __version__,
        "n_clusters": sum(sizes),
        "files": [{"name": f"part.{i}.parquet", "clusters": size} for i, size in enumerate(sizes)],
        "seconds": round(seconds, 3),
        "clusters_per_second": round(sum(sizes) / max(seconds, 1e-9), 1),
    }


def write_dataset(config: SimulationConfig, directory: Path) -> Path:
    """Simulate ``config.n_clusters`` clusters into ``directory/part.<i>.parquet``.

    Files hold ``clusters_per_file`` clusters each (the last one the rest) in row
    groups of ``rows_per_group``. File ``i`` is drawn from its own stream
    ``SeedSequence(config.seed).spawn(n_files)[i]``, so the output is bit-identical
    for the same config. Everything is written into a hidden sibling directory, with
    a ``simulation.json`` manifest last, and renamed into place at the end
    (:func:`smartml.data.cache.write_cached`); an existing ``directory`` is replaced
    only if it holds nothing but such files.

    Args:
        config: the simulation settings.
        directory: where the dataset goes.

    Returns:
        ``directory``.

    Raises:
        DataError: if the directory cannot be written (one line naming it).
        ConfigError: if the track settings cannot produce clusters.
    """
    _check_tracks(config)
    return CACHE.write(
        directory, CACHE.settings(config), lambda staging: _simulate_into(config, staging)
    )


def simulation_dir(config: SimulationConfig, root: str | Path | None = None) -> Path:
    """The cache directory of these simulation settings: ``<root>/pixelsim-<12 hex>``,
    the root being :meth:`~smartml.data.cache.GeneratorCache.root` (default the
    user cache's ``simulated``).

    The key hashes every simulation setting and :data:`SIMULATOR_VERSION`, so any
    change gives a new directory.

    >>> simulation_dir(SimulationConfig(), Path("data")).name.startswith("pixelsim-")
    True
    """
    return CACHE.directory(CACHE.settings(config), root)


def read_manifest(directory: Path) -> dict | None:
    """The manifest of a simulated dataset, or None if absent or unreadable."""
    return CACHE.read_manifest(directory)


def ensure_simulated(config: SimulationConfig, root: str | Path | None = None) -> Path:
    """Return the cached dataset of ``config`` under ``root``, simulating it if needed.

    A directory counts as complete when its manifest matches ``config`` and lists
    files that exist; anything else (e.g. an interrupted run) is simulated again.

    Args:
        config: the simulation settings.
        root: the directory holding one dataset per simulation settings (default
            the user cache's ``simulated``, see :class:`~smartml.data.cache.GeneratorCache`).

    Returns:
        :func:`simulation_dir` of ``config`` under ``root``.
    """
    _check_tracks(config)
    return CACHE.ensure(
        CACHE.settings(config), lambda staging: _simulate_into(config, staging), root
    )
