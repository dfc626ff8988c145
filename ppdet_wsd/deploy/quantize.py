"""int8 post-training quantisation of ``model.onnx`` with onnxruntime (``model_int8.onnx``).

Static quantisation: int8 weights per output channel, uint8 activations with ranges
calibrated (min / max) on a few preprocessed training images, written as QDQ nodes. The
graph first goes through onnxruntime's quantisation pre-processing (constants folded into
initializers, batch norms fused into convolutions); without it paddle2onnx's weights reach
the quantiser as computed tensors and stay float.
"""
import os
import tempfile

from ppdet_wsd_runtime.model_dir import INT8_FILE, onnx_model_file, read_infer_cfg
from ppdet_wsd_runtime.preprocess import Preprocess


class CalibrationImages:
    """A calibration data reader for onnxruntime (its ``get_next`` protocol) over image
    files: one ``{'image': float32 [1, 3, H, W]}`` feed per image, preprocessed as
    ``infer_cfg.yml`` says, then None."""

    def __init__(self, paths, preprocess, input_name='image'):
        self.feeds = ({input_name: preprocess(p)['image'][None]} for p in paths)

    def get_next(self):
        return next(self.feeds, None)


def quantize_int8(model_dir, calibration_paths):
    """Write ``<model_dir>/model_int8.onnx`` from ``model.onnx``.

    Args:
        model_dir (str): an exported folder with ``model.onnx``.
        calibration_paths (list[str]): image files (e.g. 16-64 training images, good and
            defective) whose activations set the int8 ranges.
    Returns:
        str: the path of ``model_int8.onnx``.
    """
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process
    if not calibration_paths:
        raise ValueError('int8 quantisation needs calibration images; none given')
    source = onnx_model_file(model_dir)
    preprocess = Preprocess(read_infer_cfg(model_dir)['Preprocess'])
    reader = CalibrationImages(calibration_paths, preprocess)
    target = os.path.join(model_dir, INT8_FILE)
    with tempfile.TemporaryDirectory(dir=model_dir, prefix='.tmp-') as tmp:
        prepared, quantized = os.path.join(tmp, 'prepared.onnx'), os.path.join(tmp, 'int8.onnx')
        quant_pre_process(source, prepared, skip_symbolic_shape=True)
        quantize_static(prepared, quantized, reader, quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8)
        os.replace(quantized, target)
    return target
