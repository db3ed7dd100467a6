"""The one place smartml calls hls4ml's converter.

hls4ml 1.3 chooses its Keras converter from ``import keras``'s version. Beside
TensorFlow 2.21 that is Keras 3, so ``hls4ml.converters.convert_from_keras_model``
would send a tf_keras/QKeras model to the Keras-3 parser, which does not know QKeras
layers. :func:`convert` calls the Keras-2 converter (``keras_v2_to_hls``) directly
with a configuration built the way ``convert_from_keras_model`` builds it.
"""

from smartml.backend import keras
from smartml.config.export import ASIC_LIBRARIES


def convert(
    model: keras.Model,
    layer_config: dict,
    *,
    backend: str,
    part: str,
    output_dir: str,
    project_name: str,
    clock_period_ns: float,
    io_type: str,
    strategy: str,
    reuse_factor: int,
    default_precision: str,
    input_data: str | None = None,
    output_data: str | None = None,
):
    """Convert a Keras-2 (tf_keras/QKeras) model to an hls4ml ``ModelGraph``.

    Args:
        model: the model; ``layer_config``: hls4ml's ``LayerName`` block.
        part: FPGA part, or for Catapult an ASIC library name.
        input_data, output_data: ``.npy`` test-bench vectors copied into the project.
    """
    from hls4ml.converters import create_config, keras_v2_to_hls

    _check_supported(model, backend, strategy, io_type)
    target = {"part": part}
    if backend == "Catapult":
        asic = part in ASIC_LIBRARIES
        target = {"tech": "asic" if asic else "fpga", "asiclibs" if asic else "part": part}
    config = create_config(
        output_dir=output_dir,
        project_name=project_name,
        backend=backend,
        clock_period=clock_period_ns,
        io_type=io_type,
        **target,
    )
    config["KerasModel"] = model
    config["InputData"] = input_data
    config["OutputPredictions"] = output_data
    config["HLSConfig"] = {
        "Model": {
            "Precision": default_precision,
            "ReuseFactor": reuse_factor,
            "Strategy": strategy,
            "BitExact": None,
        },
        "LayerName": layer_config,
    }
    return keras_v2_to_hls(config)


def _check_supported(model: keras.Model, backend: str, strategy: str, io_type: str) -> None:
    """Refuse what hls4ml 1.3 accepts but cannot compute exactly (or at all) with these
    settings: each layer's handler says (e.g. no Resource strategy for depthwise
    convolutions with io_parallel, whose C simulation asserts and kills the process)."""
    from smartml.hardware.registry import handler_for

    for layer in model.layers:
        handler_for(layer, "export").check_backend(layer, backend, strategy, io_type)
