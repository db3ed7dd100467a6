"""Training: run directories, callbacks and the task-independent trainer."""
