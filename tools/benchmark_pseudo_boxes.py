"""Measure CAM maps and pseudo boxes of a trained classifier against the ground truth of a
split (default test) and record them in docs/benchmarks.md:
``python tools/benchmark_pseudo_boxes.py -c CONFIG -o weights=CKPT --label ours --methods cam gradcam``."""
import _bootstrap  # noqa: F401  (must come first)

import os

import ppdet_wsd  # noqa: F401
from ppdet_wsd.benchmarks.pseudo_boxes import benchmark_pseudo_boxes, render_section
from ppdet_wsd.engine.commands import (dataset_split, pseudo_box_generator, pseudo_options,
                                       trained_model)
from ppdet_wsd.engine.config import load_run_config, make_parser

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTES = [
    '- split: `test`, measured once per configuration; MaxBoxAccV2 (IoU 0.3/0.5/0.7, CAM threshold '
    'swept 0..0.99 relative to the map max) and PxAP over the defective test images that have '
    'localisation truth; pseudo boxes are made for the classes in each image\'s label (as for '
    'training images) with the run\'s rule threshold, which uses no ground truth unless the '
    '"boxed images used" column says how many boxed val images chose per-class thresholds; '
    'mAP via pycocotools over all test images (good images included).',
    '- "maps+boxes img/s": CAM method + alignment to the original image + box generation; '
    '"plain inference img/s": the classifier forward pass alone on the same batches. Both exclude '
    'image decoding.',
]


def main():
    parser = make_parser(__doc__)
    parser.add_argument('--label', required=True, help='name of this run in the table')
    parser.add_argument('--methods', nargs='+', default=['cam', 'gradcam', 'gradcam++', 'layercam'])
    parser.add_argument('--split', default='test')
    parser.add_argument('--results_dir', default=os.path.join('output', 'benchmarks', 'pseudo_boxes'))
    parser.add_argument('--doc', default=os.path.join(REPO, 'docs', 'benchmarks.md'))
    flags = parser.parse_args()
    cfg = load_run_config(flags)
    model, classes = trained_model(cfg)
    generator, used = pseudo_box_generator(model, cfg, classes, pseudo_options(cfg))
    dataset = dataset_split(flags.split)
    results_dir = os.path.join(flags.results_dir, os.path.basename(dataset.dataset_dir.rstrip('/')))
    benchmark_pseudo_boxes(model, cfg, dataset, classes, generator, flags.methods, flags.label,
                           results_dir, REPO, few_boxes_used=used)
    name = os.path.basename(results_dir)
    render_section(results_dir, flags.doc, f'pseudo_boxes:{name}',
                   f'Stage 2 pseudo boxes: {name}', NOTES)


if __name__ == '__main__':
    main()
