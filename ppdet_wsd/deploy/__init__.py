"""Export for the factory PC: :mod:`.export` (the static graph + ``infer_cfg.yml``; ppdet),
:mod:`.graph` (what the graph holds), :mod:`.verdict_export` (the pipeline's image verdict:
source, threshold and, when it needs it, the stage-1 classifier), :mod:`.onnx_export`
(``model.onnx``; paddle2onnx), :mod:`.quantize` (``model_int8.onnx``; onnxruntime).

The runtime that runs an export (``python -m ppdet_wsd_runtime``; paddle.inference or
onnxruntime, numpy, OpenCV, PyYAML, tqdm, never ppdet) is the separate package
:mod:`ppdet_wsd_runtime`, so the factory PC needs neither ppdet nor this plugin; the
export side reads and writes the folder format it defines (:mod:`ppdet_wsd_runtime.model_dir`).
"""
