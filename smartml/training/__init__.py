"""Training: callbacks, distribution, MDMM and the task-independent trainer."""
