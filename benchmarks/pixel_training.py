"""Training throughput of the smart-pixel MDN (samples/s), printed as JSON.

Two figures per number of time slices:

- ``train_samples_per_s_<T>t``: ``model.fit`` on in-memory batches, the model's cost
  alone;
- ``pipeline_train_samples_per_s_<T>t``: ``model.fit`` on smartml's real input
  pipeline (:func:`smartml.data.pipeline.make_dataset` over the 12 x 2000-cluster
  public-layout files of benchmarks/pixel_pipeline.py, decoded into the memory cache
  as ``smartml.train`` does), steady state: the median epoch after the first.

The reference (smart-pixels-ml, its model and tfp loss, batches of 4000) trains at
21.4k samples/s on this machine type (issue 14). Usage::

    python benchmarks/pixel_training.py [--device cpu|gpu:0] [--batch-size 4000] [--mdmm]
        [--data DIR]
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import smartml  # noqa: F401  (Keras 2 switch before TensorFlow)
from smartml.backend import keras, select_device, tf
from smartml.config.mdmm import MDMMConfig
from smartml.models.pixel_mdn.builder import PixelMDN
from smartml.models.pixel_mdn.schema import PixelMDNConfig
from smartml.outputs.gaussian_mdn import GaussianMDN
from smartml.tasks.base import InputSpec
from smartml.tasks.smart_pixels.layout import TARGET_UNITS, TARGETS
from smartml.training.trainer import with_constraints

# 50% quantized sparsity of every quantized layer, as configs/pixel_2t_mdmm.json.
LAYERS = ("separable_conv", "pointwise_conv", "dense_0", "dense_1", "gaussian_params")
MDMM = MDMMConfig(
    constraints=[
        {"type": "sparsity", "name": name, "layers": name, "target": 0.5} for name in LAYERS
    ]
)


REFERENCE_TRAIN_SAMPLES_PER_S = 21_400
PIPELINE_EPOCHS = 8


def compiled_model(time_slices: int, jit: bool, mdmm: bool):
    output = GaussianMDN(TARGETS, TARGET_UNITS)
    image = {"pixels": InputSpec("pixels", (13, 21, time_slices))}
    model = PixelMDN.build(PixelMDNConfig(), image, output)
    model = with_constraints(model, MDMM if mdmm else None)
    model.compile(optimizer="adam", loss=output.loss(), jit_compile=jit)
    return model


def samples_per_second(
    time_slices: int, batch_size: int, steps: int, jit: bool, mdmm: bool
) -> float:
    model = compiled_model(time_slices, jit, mdmm)
    rng = np.random.default_rng(0)
    x = rng.exponential(1.0, (batch_size * 8, 13, 21, time_slices)).astype(np.float32)
    y = rng.normal(size=(batch_size * 8, 4)).astype(np.float32)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size).repeat().prefetch(2)
    model.fit(data, steps_per_epoch=10, epochs=1, verbose=0)  # trace and warm up
    started = time.perf_counter()
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
    return steps * batch_size / (time.perf_counter() - started)


class EpochTimes(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.started)

    def on_train_begin(self, logs=None):
        self.seconds: list[float] = []


def pipeline_samples_per_second(
    directory: Path, time_slices: int, batch_size: int, jit: bool, mdmm: bool
) -> float:
    """Steady-state samples/s of fit on the real pipeline (median epoch after the first)."""
    from smartml.data.pipeline import make_dataset
    from smartml.tasks.smart_pixels.normalization import PixelNormalization

    slices = [0, 19] if time_slices == 2 else list(range(20))
    source = comparison_files().open_source(directory, slices)
    train = source.split(seed=0)["train"]
    normalization = PixelNormalization.fit_batches(source.iter_chunks(train), TARGETS)
    source.decode_ahead(train)
    dataset = make_dataset(source, train, normalization.transform, batch_size, True, 0)
    model = compiled_model(time_slices, jit, mdmm)
    times = EpochTimes()
    model.fit(dataset, epochs=PIPELINE_EPOCHS, verbose=0, callbacks=[times])
    clusters = sum(source.exact_rows(chunk) or 0 for chunk in train)
    return clusters / float(np.median(times.seconds[1:]))


def comparison_files():
    """benchmarks/pixel_pipeline.py: writes and opens the 12 x 2000-cluster
    public-layout files (imported when used: pytest's doctest collection imports
    this file without the benchmarks folder on the path)."""
    sys.path.insert(0, str(Path(__file__).parent))
    import pixel_pipeline

    return pixel_pipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=4000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--jit", action="store_true", help="XLA-compile the train step")
    parser.add_argument(
        "--mdmm", action="store_true", help="train with 50%% sparsity constraints on every layer"
    )
    parser.add_argument("--data", type=Path, help="write (or reuse) the pipeline's files here")
    args = parser.parse_args()
    device = select_device(args.device)
    result = {
        "device": device,
        "cpu_count": os.cpu_count(),
        "batch_size": args.batch_size,
        "jit_compile": args.jit,
        "mdmm": args.mdmm,
    }
    with tempfile.TemporaryDirectory() as temporary, tf.device(device):
        directory = args.data or Path(temporary)
        if not any(directory.glob("recon/recon3D_*.parquet")):
            directory.mkdir(parents=True, exist_ok=True)
            comparison_files().write_dataset(directory, nan_fraction=0.0)
        for slices in (2, 20):
            settings = (args.batch_size, args.jit, args.mdmm)
            in_memory = samples_per_second(slices, args.batch_size, args.steps, args.jit, args.mdmm)
            streamed = pipeline_samples_per_second(directory, slices, *settings)
            result[f"train_samples_per_s_{slices}t"] = round(in_memory)
            result[f"pipeline_train_samples_per_s_{slices}t"] = round(streamed)
    result["reference_train_samples_per_s_2t"] = REFERENCE_TRAIN_SAMPLES_PER_S
    result["pipeline_ratio_to_reference_2t"] = round(
        result["pipeline_train_samples_per_s_2t"] / REFERENCE_TRAIN_SAMPLES_PER_S, 2
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
