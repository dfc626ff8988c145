"""Train a detector config, measure it once on the test split and tabulate it in
docs/benchmarks.md beside the pseudo boxes and the fully supervised reference:
``python tools/benchmark_detector.py -c configs/retinanet_mil/<x>.yml --label "(c) ..." --role weak``."""
import _bootstrap  # must come first

import os
import sys

if '--eval_only' not in sys.argv:
    _bootstrap.training_threads()

import ppdet_wsd  # noqa: F401
from ppdet_wsd.benchmarks.detector import ROLES, benchmark_detector, render_detector_section
from ppdet_wsd.engine.config import load_run_config, make_parser

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PSEUDO_JSON = os.path.join('output', 'benchmarks', 'pseudo_boxes', 'magnetic_tile',
                           'ours (stride 16+32, LSE), rule 0.5__cam.json')
NOTES = [
    '- split: `test` (299 images, 82 with box truth), measured once per configuration with '
    '`model_final` after a fixed schedule (no checkpoint chosen by any metric); mAP via '
    'pycocotools over all test images (a box on a good image is a false positive).',
    '- verdict: an image is defective when a class\'s MIL probability or best box score '
    'reaches the threshold: 0.5 (fixed in advance), and the threshold chosen on the **val** '
    'split\'s image labels (Youden\'s J, no box read); miss = defective judged good, '
    'over-kill = good judged defective.',
    '- (a) is the stage-2 benchmark of the pseudo boxes the weak detectors learnt from, made '
    'for the test images with their image labels known (the detectors get no label at test '
    'time).',
    '- weak rows never read a ground-truth box; the supervised row trains on the true boxes of '
    '`annotations.json` (train split) as the upper bound.',
]


def main():
    parser = make_parser(__doc__)
    parser.add_argument('--label', required=True, help='name of this run in the table')
    parser.add_argument('--role', choices=ROLES, default='weak')
    parser.add_argument('--results_dir', default=os.path.join('output', 'benchmarks', 'detector',
                                                              'magnetic_tile'))
    parser.add_argument('--pseudo_json', default=PSEUDO_JSON,
                        help='stage-2 benchmark result of the pseudo boxes (row a)')
    parser.add_argument('--doc', default=os.path.join(REPO, 'docs', 'benchmarks.md'))
    parser.add_argument('--render_only', action='store_true',
                        help='only rewrite the table from the saved rows')
    parser.add_argument('--eval_only', action='store_true',
                        help='measure the run\'s existing model_final (no training)')
    flags = parser.parse_args()
    cfg = load_run_config(flags)
    if not flags.render_only:
        benchmark_detector(cfg, flags.label, flags.role, flags.results_dir, REPO,
                           train_first=not flags.eval_only)
    render_detector_section(flags.results_dir, flags.pseudo_json, flags.doc,
                            'detector:magnetic_tile', 'Stage 3 detectors on magnetic tile',
                            NOTES)


if __name__ == '__main__':
    main()
