"""Command line of the deploy runner (``python -m ppdet_wsd_runtime`` and
``tools/deploy.py``).

    python -m ppdet_wsd_runtime MODEL_DIR IMAGES --out DIR [--backend paddle|onnx] [--int8]
        [--batch-size N] [--threads N] [--draw] [--heatmaps] [--min-box-score S]
"""
import argparse
import os
import sys

from .backends import BACKENDS
from .image_io import ImageReadError
from .model_dir import ModelFolderError
from .results import DEFECTIVE
from .runner import RESULTS_FILE, run_deploy
from .threads import cores


def make_parser():
    parser = argparse.ArgumentParser(
        prog='python -m ppdet_wsd_runtime',
        description='Run an exported ppdet-wsd model on images: per-image verdicts, scores '
                    f'and boxes in <out>/{RESULTS_FILE}. Needs only paddle (or onnxruntime), '
                    'numpy, OpenCV, PyYAML and tqdm.')
    parser.add_argument('model_dir', help='the exported model folder (infer_cfg.yml, model.*)')
    parser.add_argument('images', help='a folder (searched recursively), an image file or a '
                                       'glob pattern (quote it: "imgs/**/*.png")')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--backend', choices=BACKENDS, default='paddle',
                        help='paddle: Paddle Inference with oneDNN (default); onnx: '
                             'onnxruntime on model.onnx')
    parser.add_argument('--int8', action='store_true',
                        help='run model_int8.onnx (with --backend onnx)')
    parser.add_argument('--batch-size', type=int, default=1, help='images per model call')
    parser.add_argument('--threads', type=int, default=None,
                        help=f"CPU threads (default: every core, here {cores()})")
    parser.add_argument('--draw', action='store_true',
                        help='also write <out>/pictures/<image>.png with the boxes (over the '
                             'heat map when the export has one) or heat map')
    parser.add_argument('--heatmaps', action='store_true',
                        help='also write <out>/heatmaps/<image>.npy: float16 [H, W], the '
                             "heat map of the verdict's top class as drawn (0 background, "
                             '0.5 the level of a stage-1 map)')
    parser.add_argument('--min-box-score', type=float, default=None,
                        help='leave boxes below this score out of the results (default: the '
                             "model's operating threshold; 0 keeps every box)")
    return parser


def summary(document, out_dir):
    """The lines printed after a run: counts, where the results are, the unreadable files."""
    images = document['images']
    defective = sum(r['verdict'] == DEFECTIVE for r in images)
    verdict = document.get('verdict')
    rule = f'operating threshold {document["operating_threshold"]:.3f}' if not verdict else \
        f'verdict: {verdict["source"]} at {verdict["threshold"]:.3f}'
    lines = [f'{len(images)} images: {defective} defective, {len(images) - defective} good '
             f'({rule}); results in {os.path.join(out_dir, RESULTS_FILE)}']
    if document['unreadable']:
        lines.append(f'{len(document["unreadable"])} unreadable images skipped (also listed '
                     f'in {RESULTS_FILE}):')
        lines += [f'  {u["error"]}' for u in document['unreadable']]
    return lines


def main(argv=None):
    args = make_parser().parse_args(argv)
    try:
        document = run_deploy(args.model_dir, args.images, args.out, backend=args.backend,
                              int8=args.int8, batch_size=args.batch_size, threads=args.threads,
                              draw=args.draw, min_box_score=args.min_box_score,
                              heatmaps=args.heatmaps)
    except (ModelFolderError, FileNotFoundError, ImageReadError, ValueError,
            RuntimeError) as err:
        sys.exit(f'error: {err}')
    print('\n'.join(summary(document, args.out)))
