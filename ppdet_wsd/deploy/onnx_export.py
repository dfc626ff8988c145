"""Convert an exported model folder's Paddle graph to ONNX (``model.onnx``) with paddle2onnx,
for onnxruntime (``python -m ppdet_wsd_runtime ... --backend onnx``).

paddle2onnx 2.x converts the paddle 3 (PIR) graph; it refuses paddle < 3 at import, and
paddle2onnx 1.x turns the paddle 2.6 graph into a model onnxruntime rejects, so on the
paddle 2.6 line the conversion is unavailable (:func:`onnx_unavailable_reason`); a
``model.onnx`` converted elsewhere still runs there.
"""
import os

from ppdet_wsd_runtime.atomic import atomic_file
from ppdet_wsd_runtime.model_dir import (EVIDENCE, MODEL, ModelFolderError, onnx_name,
                                         paddle_model_files)
from ppdet_wsd_runtime.quiet import host_noise_filtered

OPSET = 13
INSTALL_HINT = 'pip install -r requirements/deploy.txt'


def onnx_unavailable_reason():
    """None when ONNX conversion works here, otherwise why not (one line)."""
    with host_noise_filtered():
        import paddle
    if int(paddle.__version__.split('.')[0]) < 3:
        return (f'ONNX conversion needs paddle >= 3 (paddle2onnx 2.x); this is paddle '
                f'{paddle.__version__}')
    try:
        import paddle2onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as err:
        return f'ONNX conversion needs paddle2onnx and onnxruntime ({err}): {INSTALL_HINT}'
    return None


def export_onnx(model_dir):
    """Write ``<model_dir>/model.onnx`` (opset 13) from the folder's Paddle graph, and
    ``evidence.onnx`` from the verdict's evidence backbone when the folder has one; each
    file appears complete or not at all. The graphs are written as converted: onnxruntime
    optimises them when loading (paddle2onnx's default polygraphy folding is not used: it
    pip-installs packages at run time).

    Returns:
        str: the path of ``model.onnx``.
    Raises:
        RuntimeError: ONNX conversion is unavailable here (:func:`onnx_unavailable_reason`).
    """
    reason = onnx_unavailable_reason()
    if reason:
        raise RuntimeError(reason)
    try:
        evidence = paddle_model_files(model_dir, EVIDENCE)
    except ModelFolderError:
        evidence = None
    if evidence:
        _convert(*evidence, os.path.join(model_dir, onnx_name(EVIDENCE)))
    return _convert(*paddle_model_files(model_dir), os.path.join(model_dir, onnx_name(MODEL)))


def _convert(program, params, target):
    """paddle2onnx of one Paddle graph into ``target`` (temporary file + rename)."""
    import paddle2onnx
    with atomic_file(target, suffix='.onnx') as tmp:
        paddle2onnx.export(program, params, tmp, opset_version=OPSET, optimize_tool='none')
    return target
