"""Schema of the ``data`` section of the RICH particle-identification task.

The data are events in the NA62 RICH HDF5 layout (:mod:`.layout`): by default written
by the built-in simulator (``simulation``) and cached, or your own ``.h5`` files
(``source: "files"``, ``files`` globs) with the PMT position table they need
(``pmt_positions``). The reader (:mod:`.hdf5_reader`) applies the cuts given here;
the training split is balanced per momentum bin (:mod:`.preprocessing`). Imports no
TensorFlow.

>>> data = RichDataConfig(source="files", files=["run*.h5"], pmt_positions="pmt.npy")
>>> data.momentum_min_gev, data.momentum_max_gev, data.time_window_ns, data.max_points
(15.0, 45.0, 0.5, 64)
>>> data.class_names()
('muon', 'pion')
"""

from typing import Annotated, Literal

from pydantic import Field, model_validator

from smartml.config.common import SplitConfig
from smartml.config.inputs import InputPath, NamedInput, named_file
from smartml.config.strict import Seed, StrictModel
from smartml.registry import TASKS
from smartml.tasks.rich_pid.layout import CLASS_NAMES, N_PMTS
from smartml.tasks.rich_pid.simulation_config import RichSimulationConfig

# NA62's trigger configuration shifts the Jura (disk 0) and Salève (disk 1) disks by
# these (x, y) in mm onto one plane (facts: NA62 RICH data).
NA62_DISK_OFFSETS_MM = ((1635.0, 0.0), (-1565.0, 0.0))
# Beyond these a value is a typing mistake: the RICH is ~4 m wide, p is in GeV/c.
MAX_OFFSET_MM = 10_000.0
MAX_MOMENTUM_GEV = 1_000.0
MAX_EVENTS_PER_CHUNK = 10_000_000

Millimetres = Annotated[float, Field(ge=-MAX_OFFSET_MM, le=MAX_OFFSET_MM, allow_inf_nan=False)]


class ClassesConfig(StrictModel):
    """Which particles are classified: muon vs pion, or with positrons as a third class."""

    keep_positrons: bool = Field(
        False, description="keep positrons as a third class; false: drop them"
    )


class BalanceConfig(StrictModel):
    """Undersampling of the training split: in each momentum bin every class is cut
    down to the count of the rarest class in that bin (seeded)."""

    enabled: bool = True
    bins: int = Field(3, ge=1, le=1000, description="equal-width bins over the momentum range")
    seed: Seed = 0
    validation: bool = Field(
        True,
        description="balance the validation split the same way, so that the validation loss "
        "(best epoch, early stopping) measures what training minimises, not the class mixture",
    )


@TASKS.register("rich_pid", implementation="smartml.tasks.rich_pid.task:RichPidTask")
class RichDataConfig(StrictModel):
    source: Literal["simulation", "files"] = "simulation"
    files: list[InputPath] = Field(
        default_factory=list,
        description="globs of .h5 files in the NA62 RICH layout (source 'files')",
    )
    pmt_positions: InputPath | None = Field(
        None,
        description=f"the ({N_PMTS}, 3) float32 or float64 .npy PMT position table (x mm, y mm, "
        "disk): required for source 'files'; with source 'simulation' the simulator places its "
        "hits on this table's PMTs instead of its built-in grid",
    )
    disk_offsets_mm: tuple[tuple[Millimetres, Millimetres], tuple[Millimetres, Millimetres]] = (
        Field(
            NA62_DISK_OFFSETS_MM,
            description="(x, y) added to the disk-local PMT positions of disk 0 (Jura) and "
            "disk 1 (Salève) (source 'files'; simulated data use simulation.disk_offsets_mm)",
        )
    )
    momentum_min_gev: float = Field(15.0, ge=0, le=MAX_MOMENTUM_GEV, allow_inf_nan=False)
    momentum_max_gev: float = Field(45.0, gt=0, le=MAX_MOMENTUM_GEV, allow_inf_nan=False)
    ring_centre_window_mm: float = Field(
        2500.0,
        gt=0,
        le=MAX_OFFSET_MM,
        allow_inf_nan=False,
        description="keep events whose fitted ring centre has |x| and |y| below this",
    )
    time_window_ns: float = Field(
        0.5,
        gt=0,
        le=1000.0,
        allow_inf_nan=False,
        description="in-time hits: |hit_time - chod_time| below this",
    )
    max_points: int = Field(64, ge=1, le=N_PMTS, description="points per event (padded)")
    empty_events: Literal["drop", "keep"] = Field(
        "drop", description="events without in-time hits: dropped, or kept with an empty cloud"
    )
    classes: ClassesConfig = ClassesConfig()
    balance: BalanceConfig = BalanceConfig()
    use_ring_radius: bool = Field(
        False, description="give the file's fitted ring radius to the model as a global input"
    )
    use_ring_mass: bool = Field(
        False,
        description="give the squared mass m² = p²(n² cos²θc − 1), GeV²/c⁴, of the file's "
        "fitted ring radius (tan θc = R/f) and the track momentum as a global input",
    )
    use_hit_count: bool = Field(
        False,
        description="give the number of in-time hits (all of them, also those beyond "
        "max_points) to the model as a global input: the photon yield grows as sin²θc, "
        "so a muon's ring has more hits than a pion's of the same momentum",
    )
    centre_on_ring: bool = Field(
        False,
        description="hit positions relative to the file's fitted ring centre (Events."
        "ring_centre_pos) instead of the common focal plane's origin",
    )
    split: SplitConfig = SplitConfig()
    events_per_chunk: int = Field(
        2000, ge=1, le=MAX_EVENTS_PER_CHUNK, description="events read together (memory bound)"
    )
    simulation: RichSimulationConfig = RichSimulationConfig()

    @model_validator(mode="after")
    def _consistent(self) -> "RichDataConfig":
        if self.momentum_max_gev <= self.momentum_min_gev:
            raise ValueError("momentum_max_gev must be greater than momentum_min_gev")
        if self.source == "files" and not self.files:
            raise ValueError("source 'files' needs data.files (globs of .h5 files)")
        if self.source == "files" and not self.pmt_positions:
            raise ValueError("source 'files' needs data.pmt_positions (the PMT table .npy)")
        return self

    def input_files(self) -> list[NamedInput]:
        """The files this configuration reads: the events' (source 'files') and the
        PMT table (the simulator's too)."""
        named = [NamedInput("data.files", tuple(self.files))] if self.source == "files" else []
        if self.pmt_positions:
            named.append(named_file("data.pmt_positions", self.pmt_positions))
        return named

    def class_names(self) -> tuple[str, ...]:
        """The classes classified, in label order."""
        return CLASS_NAMES if self.classes.keep_positrons else CLASS_NAMES[:2]
