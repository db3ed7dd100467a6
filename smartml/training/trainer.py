"""The task-independent trainer: config -> data -> model -> fit -> evaluate.

It asks the task registry for the task and the model registry for the builder, and
knows nothing else about either.
"""

import gc
import logging
import time
from collections.abc import Sequence
from typing import Any

from smartml.backend import keras, reraise_smartml_errors, tf
from smartml.config import RunConfig, save_config
from smartml.config.mdmm import MDMMConfig
from smartml.data.memory_cache import release_freed_memory
from smartml.errors import ConfigError
from smartml.evaluation.run import evaluate_run, write_metrics, write_model_card
from smartml.models.binding import build_model
from smartml.models.exportability import is_exportable
from smartml.models.saved import load_model
from smartml.registry import TASKS
from smartml.runs.directory import RunDirectory, WorkerRunDirectory, trained_model_file
from smartml.tasks.base import InputShard, Task
from smartml.training.callbacks import (
    build_callbacks,
    keep_last_row_per_epoch,
    kept_epoch_validation,
)
from smartml.training.distillation import DistilledModel, load_teacher
from smartml.training.distribution import Placement, create_placement
from smartml.training.mdmm import MDMMModel, Schedule, constraints_from_config

log = logging.getLogger("smartml.train")


def train(
    config: RunConfig, overwrite: bool = False, extra_callbacks: Sequence[Any] = ()
) -> RunDirectory:
    """Run a whole training as configured and return its (complete) run directory.

    The strategy of ``training.distribution`` is created first. Only the chief (the
    one process of a single-worker run) writes the run directory; the other workers
    of a multi-worker run write to a temporary folder, removed when they finish, and
    leave the evaluation to the chief.

    Args:
        config: the resolved configuration.
        overwrite: replace a complete run, or start an unfinished one anew, in the
            run directory; without it both are refused (a complete run), or an
            unfinished run is resumed only with the configuration that started it.
        extra_callbacks: Keras callbacks run after the trainer's own (e.g. the
            pruning callback of a hyperparameter search, :mod:`smartml.tune`).

    Returns:
        the run directory (complete once the chief returns).

    Raises:
        RunDirectoryError: the run directory holds another run (before anything is
            written), or cannot be written.
        ConfigError: a strategy that cannot be created (devices, cluster, a batch not
            divisible by the replicas).
        WorkerLostError: another worker of a multi-worker run stopped.
    """
    started = time.perf_counter()
    placement = create_placement(config.training)  # before any other TensorFlow op
    shared = RunDirectory(config.run_dir())
    shared.refuse_conflicts(config, overwrite)
    if placement.is_chief:
        with placement.peers_reported():
            train_in(shared, config, placement, overwrite, extra_callbacks)
        shared.mark_complete(config, {"wall_seconds": round(time.perf_counter() - started, 1)})
        log.info("run complete: %s (%.0f s)", shared.path, time.perf_counter() - started)
        return shared
    scratch = WorkerRunDirectory(shared)
    try:
        with placement.peers_reported():
            train_in(scratch, config, placement, overwrite, extra_callbacks)
    finally:
        scratch.remove()
    log.info("worker %d done; the chief writes %s", placement.worker_index, shared.path)
    return shared


def train_in(
    run_dir: RunDirectory,
    config: RunConfig,
    placement: Placement,
    overwrite: bool,
    extra_callbacks: Sequence[Any] = (),
) -> None:
    """Prepare, fit and (chief) evaluate into ``run_dir``, all but the completion
    marker (``extra_callbacks``: see :func:`train`)."""
    task = TASKS.get(config.task.name)(config, run_dir)
    resuming = run_dir.open_for_training((*task.run_files, *task.products), overwrite)
    keras.utils.set_random_seed(config.training.seed)
    if placement.is_chief:
        save_config(config, run_dir.config)
        run_dir.record_start(config)
    log.info("%s run in %s (%s)", "resuming" if resuming else "starting", run_dir.path, placement)

    task.prepare(fit=not resuming or not task.has_run_files())
    train_data, validation_data = placed_datasets(task, placement)
    with placement.scope():
        model = build_model(config, task)
        # Every worker of a multi-worker run must create the same variables, in order
        # (the strategy broadcasts their initial values): all load the initial
        # weights, which a resumed run's backup then replaces.
        if config.training.initial_weights and (not resuming or placement.n_workers > 1):
            load_initial_weights(model, config.training.initial_weights)
        trainee = trainee_of(model, config, task)
        trainee.compile(
            optimizer=keras.optimizers.Adam(config.training.learning_rate),
            loss=task.output.loss(),
            metrics=task.output.keras_metrics(),
        )
    log.info("model %s: %d parameters", config.model.name, model.count_params())

    fit_started = time.perf_counter()
    with placement.fit_context(), reraise_smartml_errors():
        history = trainee.fit(
            train_data,
            validation_data=validation_data,
            epochs=config.training.epochs,
            callbacks=build_callbacks(
                config.training,
                run_dir,
                resuming,
                batches_known=_cardinality_known(train_data),
                hardware_costs=is_exportable(config.model),
            )
            + list(extra_callbacks),
            verbose=config.training.verbose,
        )
    fit_seconds = time.perf_counter() - fit_started
    # Free the pipelines and their shuffle buffers (1.4 GB for 20 slices; held by
    # reference cycles until collected) before the evaluation reads the test split.
    del train_data, validation_data
    gc.collect()
    release_freed_memory()
    if resuming:
        keep_last_row_per_epoch(run_dir.history)
    if not history.history:
        # BackupAndRestore found all epochs done; the previous process died after fit.
        log.info("all epochs were already trained")
    if not placement.is_chief:
        return  # the chief saves and evaluates the model
    model = kept_model(config, task, run_dir, trainee, placement)
    model.save(run_dir.model)  # the plain model: no MDMM state or teacher is needed to use it

    with reraise_smartml_errors():
        metrics = evaluate_run(run_dir, task, model)
    validation = task.validation_metric()
    metrics["validation"] = kept_epoch_validation(
        run_dir, config.training.checkpoint_monitor, validation.key, validation.better
    )
    metrics["training"] = {
        "epochs_run": len(history.history.get("loss", [])),
        "first_epoch_of_this_process": history.epoch[0] if history.epoch else None,
        "resumed": resuming,
        "fit_seconds": round(fit_seconds, 1),
        "parameters": int(model.count_params()),
        "replicas": placement.replicas,
    }
    write_metrics(run_dir, metrics)
    write_model_card(run_dir, task)


def placed_datasets(task: Task, placement: Placement) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    """Training and validation batches (of the global batch size) as ``placement``
    reads them: all of the data on one worker (a mirrored strategy splits every batch
    over its replicas), this worker's share of the chunks on several
    (:class:`~smartml.tasks.base.InputShard`; see
    :func:`smartml.data.pipeline.make_dataset`)."""
    if placement.n_workers > 1:
        task.input_shard = InputShard(placement.worker_index, placement.n_workers)
    return task.datasets()


def kept_model(
    config: RunConfig, task: Task, run_dir: RunDirectory, trainee: keras.Model, placement: Placement
) -> keras.Model:
    """The trained model (not its MDMM or distillation wrapper) with the kept weights: the best
    checkpoint's, else the last.

    On one device that is the model trained. Under a strategy it is a plain twin
    built outside it: a checkpoint cannot be loaded into a distributed model (its
    metric variables live per replica), and ``predict`` is not supported under a
    multi-worker strategy.
    """
    if placement.kind == "default":
        if run_dir.best_weights.is_file():
            trainee.load_weights(str(run_dir.best_weights))
        return getattr(trainee, "inner", trainee)
    twin = build_model(config, task)
    twin_trainee = trainee_of(twin, config, task)
    if run_dir.best_weights.is_file():
        twin_trainee.load_weights(str(run_dir.best_weights))
    else:
        twin_trainee.set_weights(trainee.get_weights())
    return twin


def load_initial_weights(model: keras.Model, source: str) -> None:
    """Copy the weights of a trained model of the same architecture into ``model``.

    Args:
        source: a complete run directory, or a model file saved by smartml.
    """
    path = trained_model_file(source, "training.initial_weights")
    trained = load_model(path)
    mine = [(w.name, tuple(w.shape)) for w in model.weights]
    theirs = [(w.name, tuple(w.shape)) for w in trained.weights]
    if mine != theirs:
        raise ConfigError(
            f"training.initial_weights: {path}: architecture differs from the configured model "
            f"(weights {theirs} vs {mine})"
        )
    model.set_weights(trained.get_weights())
    log.info("initial weights from %s", path)


def trainee_of(model: keras.Model, config: RunConfig, task: Task) -> keras.Model:
    """The model to train: ``model`` itself, or wrapped by its training method (MDMM
    constraints or a distillation teacher; the configuration allows one)."""
    distillation = config.training.distillation
    if distillation is None:
        return with_constraints(model, config.training.mdmm)
    teacher = load_teacher(distillation.teacher, model)
    wrapped = DistilledModel(
        model, teacher, task.output.distillation_loss(), weight=distillation.weight
    )
    wrapped.build(model.input_shape)  # BackupAndRestore needs built weights to restore into
    return wrapped


def with_constraints(model: keras.Model, mdmm: MDMMConfig | None) -> keras.Model:
    """The model to train: ``model`` itself, or wrapped for MDMM when constraints are
    configured (an unknown layer or an impossible budget fails here, before training)."""
    if mdmm is None:
        return model
    constraints = constraints_from_config([c.model_dump() for c in mdmm.constraints])
    schedule = None if mdmm.schedule is None else Schedule(**mdmm.schedule.model_dump())
    wrapped = MDMMModel(
        model,
        constraints,
        mdmm.lambda_learning_rate,
        mdmm.damping,
        mdmm.feasibility_tolerance,
        schedule=schedule,
    )
    wrapped.build(model.input_shape)  # BackupAndRestore needs built weights to restore into
    return wrapped


def _cardinality_known(dataset: tf.data.Dataset) -> bool:
    return int(tf.data.experimental.cardinality(dataset)) >= 0
