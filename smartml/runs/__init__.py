"""Run directories: what a run holds (:mod:`~smartml.runs.directory`), and opening a
complete run with its task and verified model (:mod:`~smartml.runs.opening`)."""
