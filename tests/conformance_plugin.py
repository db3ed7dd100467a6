"""Registers the conformance suite's toy tasks when imported: the module that
``SMARTML_PLUGINS`` names in the suite's training processes and notebook kernels."""

import conformance_tasks

conformance_tasks.register()
