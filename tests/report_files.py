"""The export settings a report.json records for an export with default settings, for
tests that write reports by hand or convert with those settings.

``tests/conftest.py`` puts this directory on ``sys.path``, so tests write
``from report_files import EXPORT_SETTINGS``.

>>> EXPORT_SETTINGS["backend"], EXPORT_SETTINGS["clock_period_ns"]
('Vitis', 25.0)
"""

from smartml.config.export import ExportConfig

_DEFAULTS = ExportConfig()
EXPORT_SETTINGS = {
    "backend": _DEFAULTS.backend,
    "part": _DEFAULTS.resolved_part(),
    "clock_period_ns": _DEFAULTS.clock_period_ns,
    "io_type": _DEFAULTS.io_type,
    "strategy": _DEFAULTS.strategy,
    "reuse_factor": _DEFAULTS.reuse_factor,
}
