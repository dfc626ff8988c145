"""Export for deployment: ``python tools/export_model.py -c CONFIG -o weights=CKPT
[--output_dir D] [--onnx] [--int8 [--calibration_images N]]``; run the export with
``python -m ppdet_wsd_runtime`` (docs/deploy.md)."""
import _bootstrap  # noqa: F401  (must come first)

import sys

import ppdet_wsd  # noqa: F401
from ppdet_wsd.deploy.onnx_export import onnx_unavailable_reason
from ppdet_wsd.engine.commands import export
from ppdet_wsd.engine.config import load_run_config, make_parser, user_errors


def main():
    parser = make_parser(__doc__)
    parser.add_argument('--output_dir', default='output_inference')
    parser.add_argument('--onnx', action='store_true', help='also write model.onnx (paddle >= 3)')
    parser.add_argument('--int8', action='store_true',
                        help='also write model.onnx and model_int8.onnx (int8, calibrated on '
                             'training images)')
    parser.add_argument('--calibration_images', type=int, default=32,
                        help='training images that calibrate the int8 ranges')
    flags = parser.parse_args()
    reason = (flags.onnx or flags.int8) and onnx_unavailable_reason()
    if reason:
        sys.exit(f'error: {"--int8" if flags.int8 else "--onnx"}: {reason}')
    export(load_run_config(flags), flags.output_dir, onnx=flags.onnx, int8=flags.int8,
           calibration_images=flags.calibration_images)


if __name__ == '__main__':
    with user_errors():
        main()
