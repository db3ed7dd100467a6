"""Settings of the built-in RICH simulator (no TensorFlow here: config validation
imports this module).

>>> RichSimulationConfig().n_events
200000
"""

from pydantic import Field

from smartml.config.strict import Seed, StrictModel

# More events than this is a typing mistake (the simulator writes ~20k events/s).
MAX_SIMULATED_EVENTS = 100_000_000


class RichSimulationConfig(StrictModel):
    """How many events the simulator writes, with which seed, in files of what size."""

    n_events: int = Field(200_000, gt=0, le=MAX_SIMULATED_EVENTS)
    seed: Seed = 1
    events_per_file: int = Field(100_000, gt=0, le=MAX_SIMULATED_EVENTS)
