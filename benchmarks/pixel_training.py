"""Training throughput of the smart-pixel MDN (samples/s), printed as JSON.

Times ``model.fit`` on in-memory batches, so the figure is the model's cost alone
(the input pipeline is measured by benchmarks/pixel_pipeline.py). Usage::

    python benchmarks/pixel_training.py [--device cpu|gpu:0] [--batch-size 1024] [--mdmm]
"""

import argparse
import json
import os
import time

import numpy as np

import smartml  # noqa: F401  (Keras 2 switch before TensorFlow)
from smartml.backend import select_device, tf
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


def samples_per_second(
    time_slices: int, batch_size: int, steps: int, jit: bool, mdmm: bool
) -> float:
    output = GaussianMDN(TARGETS, TARGET_UNITS)
    image = {"pixels": InputSpec("pixels", (13, 21, time_slices))}
    model = PixelMDN.build(PixelMDNConfig(), image, output)
    model = with_constraints(model, MDMM if mdmm else None)
    model.compile(optimizer="adam", loss=output.loss(), jit_compile=jit)
    rng = np.random.default_rng(0)
    x = rng.exponential(1.0, (batch_size * 8, 13, 21, time_slices)).astype(np.float32)
    y = rng.normal(size=(batch_size * 8, 4)).astype(np.float32)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size).repeat().prefetch(2)
    model.fit(data, steps_per_epoch=10, epochs=1, verbose=0)  # trace and warm up
    started = time.perf_counter()
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
    return steps * batch_size / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--jit", action="store_true", help="XLA-compile the train step")
    parser.add_argument(
        "--mdmm", action="store_true", help="train with 50%% sparsity constraints on every layer"
    )
    args = parser.parse_args()
    device = select_device(args.device)
    result = {
        "device": device,
        "cpu_count": os.cpu_count(),
        "batch_size": args.batch_size,
        "jit_compile": args.jit,
        "mdmm": args.mdmm,
    }
    with tf.device(device):
        for slices in (2, 20):
            result[f"train_samples_per_s_{slices}t"] = round(
                samples_per_second(slices, args.batch_size, args.steps, args.jit, args.mdmm)
            )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
