"""Export for the factory PC and the runtime that runs the export.

Export side: :mod:`.export` (the static graph + ``infer_cfg.yml``; ppdet), :mod:`.graph`
(what the graph holds), :mod:`.onnx_export` (``model.onnx``; paddle2onnx),
:mod:`.quantize` (``model_int8.onnx``; onnxruntime).

Runtime (imports paddle.inference or onnxruntime, numpy, OpenCV, PyYAML, tqdm; never ppdet):
:mod:`.model_dir`, :mod:`.preprocess`, :mod:`.backends`, :mod:`.retina_decode`,
:mod:`.nms`, :mod:`.predictor`, :mod:`.results`, :mod:`.drawing`, :mod:`.runner`,
:mod:`.cli` (``python -m ppdet_wsd.deploy``).
"""
