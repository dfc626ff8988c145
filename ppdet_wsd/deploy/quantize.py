"""int8 post-training quantisation of ``model.onnx`` with onnxruntime (``model_int8.onnx``).
With a backbone shared with the stage-1 classifier, ``model.onnx`` is the detector's head
graph: it is quantised, and the backbone (``evidence.onnx``) stays float32 for both.

Static quantisation: int8 weights per output channel, uint8 activations with ranges
calibrated (min / max) on a few preprocessed training images, written as QDQ nodes. The
graph first goes through onnxruntime's quantisation pre-processing (constants folded into
initializers, batch norms fused into convolutions); without it paddle2onnx's weights reach
the quantiser as computed tensors and stay float.
"""
import os
import tempfile

from ppdet_wsd_runtime.model_dir import EVIDENCE, INT8_FILE, onnx_model_file, read_infer_cfg
from ppdet_wsd_runtime.preprocess import Preprocess


class CalibrationImages:
    """A calibration data reader for onnxruntime (its ``get_next`` protocol) over image
    files: one feed per image, preprocessed as ``infer_cfg.yml`` says, then None. The feed
    is ``{'image': float32 [1, 3, H, W]}``, or with ``backbone`` (an onnxruntime session
    of the shared backbone graph ``evidence.onnx``, whose outputs ``names`` names in order,
    as ``infer_cfg.yml`` does) its maps the head graph takes (``inputs``)."""

    def __init__(self, paths, preprocess, backbone=None, names=(), inputs=()):
        self.preprocess, self.backbone, self.names = preprocess, backbone, list(names)
        self.inputs = list(inputs)
        self.paths = iter(paths)

    def get_next(self):
        path = next(self.paths, None)
        if path is None:
            return None
        image = self.preprocess(path)['image'][None].astype('float32')
        if self.backbone is None:
            return {'image': image}
        maps = dict(zip(self.names, self.backbone.run(None, {'image': image}), strict=True))
        return {name: maps[name] for name in self.inputs}


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
    infer_cfg = read_infer_cfg(model_dir)
    backbone, names, inputs = None, (), ()
    if infer_cfg.get('backbone'):  # model.onnx is the head; the shared backbone stays float
        import onnxruntime as ort
        backbone = ort.InferenceSession(onnx_model_file(model_dir, stem=EVIDENCE),
                                        providers=['CPUExecutionProvider'])
        names = infer_cfg['verdict']['evidence']['outputs']
        inputs = infer_cfg['backbone']['inputs']
    reader = CalibrationImages(calibration_paths, Preprocess(infer_cfg['Preprocess']),
                               backbone, names, inputs)
    target = os.path.join(model_dir, INT8_FILE)
    with tempfile.TemporaryDirectory(dir=model_dir, prefix='.tmp-') as tmp:
        prepared, quantized = os.path.join(tmp, 'prepared.onnx'), os.path.join(tmp, 'int8.onnx')
        quant_pre_process(source, prepared, skip_symbolic_shape=True)
        quantize_static(prepared, quantized, reader, quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8)
        os.replace(quantized, target)
    return target
