"""The task-independent trainer: config -> data -> model -> fit -> evaluate.

It asks the task registry for the task and the model registry for the builder, and
knows nothing else about either.
"""

import json
import logging
import time
from pathlib import Path

from smartml.backend import keras, reraise_smartml_errors, select_device, tf
from smartml.config import RunConfig, save_config
from smartml.config.mdmm import MDMMConfig
from smartml.errors import ConfigError
from smartml.evaluate import evaluate_run
from smartml.hardware.cost import hardware_report, quantized_layers
from smartml.models import load_model
from smartml.registry import MODELS, TASKS
from smartml.training.callbacks import build_callbacks, keep_last_row_per_epoch
from smartml.training.mdmm import MDMMModel, constraints_from_config
from smartml.training.run_directory import RunDirectory

log = logging.getLogger("smartml.train")


def train(config: RunConfig) -> RunDirectory:
    """Run a whole training as configured and return its (complete) run directory."""
    started = time.perf_counter()
    run_dir = RunDirectory(config.run_dir())
    resuming = run_dir.open_for_training()
    device = select_device(config.training.device)
    keras.utils.set_random_seed(config.training.seed)
    save_config(config, run_dir.config)
    log.info("%s run in %s on %s", "resuming" if resuming else "starting", run_dir.path, device)

    task = TASKS.get(config.task.name)(config, run_dir)
    task.prepare(fit=not resuming or not run_dir.normalization.is_file())
    train_data, validation_data = task.datasets()
    model = MODELS.get(config.model.name).build(config.model, task.input_shape, task.n_outputs)
    if config.training.initial_weights and not resuming:
        load_initial_weights(model, config.training.initial_weights)
    trainee = with_constraints(model, config.training.mdmm)
    trainee.compile(
        optimizer=keras.optimizers.Adam(config.training.learning_rate), loss=task.loss()
    )
    log.info("model %s: %d parameters", config.model.name, model.count_params())

    fit_started = time.perf_counter()
    with tf.device(device), reraise_smartml_errors():
        history = trainee.fit(
            train_data,
            validation_data=validation_data,
            epochs=config.training.epochs,
            callbacks=build_callbacks(
                config.training, run_dir, resuming, batches_known=_cardinality_known(train_data)
            ),
            verbose=config.training.verbose,
        )
    fit_seconds = time.perf_counter() - fit_started
    if resuming:
        keep_last_row_per_epoch(run_dir.history)
    if not history.history:
        # BackupAndRestore found all epochs done; the previous process died after fit.
        log.info("all epochs were already trained")
    if run_dir.best_weights.is_file():
        trainee.load_weights(str(run_dir.best_weights))
    model.save(run_dir.model)  # the plain model: MDMM state is not needed to use it

    with reraise_smartml_errors():
        metrics = evaluate_run(run_dir, task, model)
    metrics["training"] = {
        "epochs_run": len(history.history.get("loss", [])),
        "first_epoch_of_this_process": history.epoch[0] if history.epoch else None,
        "resumed": resuming,
        "fit_seconds": round(fit_seconds, 1),
        "parameters": int(model.count_params()),
    }
    if quantized_layers(model):
        metrics["hardware"] = hardware_report(model)
    run_dir.metrics.write_text(json.dumps(metrics, indent=2) + "\n")
    run_dir.mark_complete({"wall_seconds": round(time.perf_counter() - started, 1)})
    log.info("run complete: %s (%.0f s)", run_dir.path, time.perf_counter() - started)
    return run_dir


def load_initial_weights(model: keras.Model, source: str) -> None:
    """Copy the weights of a trained model of the same architecture into ``model``.

    Args:
        source: a complete run directory, or a model file saved by smartml.
    """
    path = Path(source)
    if path.is_dir():
        path = RunDirectory(path).require_complete().model
    if not path.is_file():
        raise ConfigError(f"training.initial_weights: {source}: no such run directory or file")
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


def with_constraints(model: keras.Model, mdmm: MDMMConfig | None) -> keras.Model:
    """The model to train: ``model`` itself, or wrapped for MDMM when constraints are
    configured (an unknown layer or an impossible budget fails here, before training)."""
    if mdmm is None:
        return model
    constraints = constraints_from_config([c.model_dump() for c in mdmm.constraints])
    wrapped = MDMMModel(
        model, constraints, mdmm.lambda_learning_rate, mdmm.damping, mdmm.feasibility_tolerance
    )
    wrapped.build(model.input_shape)  # BackupAndRestore needs built weights to restore into
    return wrapped


def _cardinality_known(dataset: tf.data.Dataset) -> bool:
    return int(tf.data.experimental.cardinality(dataset)) >= 0
