"""Run an exported model on images (no training code, no ppdet, not even the plugin):
``python tools/deploy.py MODEL_DIR IMAGES --out DIR [--backend paddle|onnx] [--int8]
[--batch-size N] [--threads N] [--draw] [--min-box-score S]``; the same as
``python -m ppdet_wsd_runtime``."""
import _bootstrap  # noqa: F401  (must come first)

from ppdet_wsd_runtime.cli import main

if __name__ == '__main__':
    main()
