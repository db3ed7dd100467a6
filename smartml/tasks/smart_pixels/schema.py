"""Schema of the ``data`` section of the smart-pixels task.

The data are clusters in the public smart-pixels parquet layout (see
:mod:`smartml.tasks.smart_pixels.parquet_reader`); by default they come from the
built-in sensor simulator (:mod:`smartml.tasks.smart_pixels.simulator`), written once
to a cache directory and reused by every later run with the same simulation settings.
Imports no TensorFlow: validating a configuration imports this module.
"""

import glob
from typing import Literal

from pydantic import Field, field_validator, model_validator

from smartml.config.common import SplitConfig
from smartml.config.inputs import InputPath, NamedInput
from smartml.config.strict import FiniteFloat, PositiveFloat, PositiveInt, Seed, StrictModel
from smartml.registry import TASKS

N_TIME_SLICES = 20
N_ROWS = 13
N_COLUMNS = 21
# More clusters than this is a typing mistake (300k simulate in about a minute).
MAX_SIMULATED_CLUSTERS = 100_000_000


class SensorConfig(StrictModel):
    """A planar silicon pixel sensor (one smart-pixel sensor "type").

    Rows (13) run along local x, the beam direction; columns (21) along local y, the
    bending direction, in which the magnetic field also deflects the drifting charge
    (Lorentz drift). Local z is the sensor normal, pointing away from the beam.
    """

    pitch_x_um: PositiveFloat = Field(50.0, description="pixel size along rows (local x)")
    pitch_y_um: PositiveFloat = Field(12.5, description="pixel size along columns (local y)")
    thickness_um: PositiveFloat = 100.0
    bias_voltage_v: PositiveFloat = Field(100.0, description="full depletion assumed")
    magnetic_field_t: FiniteFloat = Field(3.8, description="along local x (beam axis)")
    hall_factor: PositiveFloat = Field(1.15, description="electron Hall/drift mobility ratio")
    temperature_k: PositiveFloat = 263.0
    noise_electrons: float = Field(75.0, ge=0, description="RMS electronic noise per pixel")
    threshold_electrons: float = Field(400.0, ge=0, description="pixels below read as 0")
    time_slice_ps: PositiveFloat = Field(200.0, description="width of each of the 20 slices")


class TrackConfig(StrictModel):
    """Tracks from the interaction point crossing a barrel layer."""

    layer_radius_mm: PositiveFloat = 30.0
    pt_min_gev: PositiveFloat = 0.2
    pt_max_gev: PositiveFloat = 20.0
    pt_spectrum_index: float = Field(
        2.0, ge=0, allow_inf_nan=False, description="dN/dpT ~ pT^-index between the limits"
    )
    eta_max: PositiveFloat = Field(1.8, le=4.0, description="|η| uniform below this")
    beamspot_sigma_z_mm: float = Field(35.0, ge=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _pt_range(self) -> "TrackConfig":
        if self.pt_max_gev <= self.pt_min_gev:
            raise ValueError("pt_max_gev must be greater than pt_min_gev")
        return self


class SimulationConfig(StrictModel):
    n_clusters: int = Field(300_000, gt=0, le=MAX_SIMULATED_CLUSTERS)
    seed: Seed = 1
    clusters_per_file: int = Field(50_000, gt=0, le=MAX_SIMULATED_CLUSTERS)
    rows_per_group: int = Field(
        5_000, gt=0, le=MAX_SIMULATED_CLUSTERS, description="parquet row-group size"
    )
    sensor: SensorConfig = SensorConfig()
    tracks: TrackConfig = TrackConfig()


@TASKS.register("smart_pixels", implementation="smartml.tasks.smart_pixels.task:SmartPixelsTask")
class PixelDataConfig(StrictModel):
    source: Literal["simulation", "parquet"] = "simulation"
    layout: Literal["parts", "recon3d"] = Field(
        "parts",
        description="'parts': part.*.parquet with pixels and labels; 'recon3d': "
        "recon3D*.parquet pixels with labels*.parquet of the same suffix in labels_path",
    )
    path: InputPath | None = Field(
        None,
        description="parquet directory; for source 'simulation' the cache root holding one "
        "directory per simulation settings (default: $SMARTML_CACHE_DIR/simulated, else "
        "the user cache directory's smartml/simulated)",
    )
    labels_path: InputPath | None = Field(
        None, description="labels directory of the recon3d layout"
    )
    time_slices: list[int] = Field(default_factory=lambda: [0, N_TIME_SLICES - 1], min_length=1)
    contained_only: bool = Field(
        False, description="keep only clusters with no charge on the window's border pixels"
    )
    split: SplitConfig = SplitConfig()
    max_clusters: PositiveInt | None = Field(None, description="use at most this many clusters")
    non_finite: Literal["drop", "error"] = Field(
        "drop",
        description="clusters whose selected pixels or labels hold NaN, inf or null: 'drop' "
        "them (counted per file in the log and metrics.json) or stop with an 'error' naming "
        "the file, row and column",
    )
    memory_cache_mb: int = Field(
        2048,
        ge=0,
        le=1_000_000,
        description="keep decoded clusters in memory (sparse, lossless) up to this many MB, "
        "so that only the first pass decodes parquet; 0: decode every epoch",
    )
    simulation: SimulationConfig = SimulationConfig()

    @field_validator("time_slices")
    @classmethod
    def _slices_in_layout(cls, slices: list[int]) -> list[int]:
        for index, value in enumerate(slices):
            if not 0 <= value < N_TIME_SLICES:
                raise ValueError(
                    f"time slice {value} (position {index}) is outside the "
                    f"{N_TIME_SLICES} slices of the layout (0..{N_TIME_SLICES - 1})"
                )
        if len(set(slices)) != len(slices):
            raise ValueError("time slices must not repeat")
        return slices

    def input_files(self) -> list[NamedInput]:
        """The parquet files of its directories this configuration reads (source
        'parquet'); a simulation's cache is not an input (it follows the settings)."""
        if self.source != "parquet":
            return []
        directories = {"data.path": self.path, "data.labels_path": self.labels_path}
        return [
            NamedInput(key, (f"{glob.escape(directory)}/*.parquet",))
            for key, directory in directories.items()
            if directory
        ]

    @model_validator(mode="after")
    def _paths_for_source(self) -> "PixelDataConfig":
        if self.source == "parquet" and not self.path:
            raise ValueError("source 'parquet' needs data.path (the parquet directory)")
        if self.layout == "recon3d" and not self.labels_path:
            raise ValueError("layout 'recon3d' needs data.labels_path (the labels directory)")
        if self.source == "simulation" and self.layout != "parts":
            raise ValueError("the simulator writes layout 'parts'")
        return self
