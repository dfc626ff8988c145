"""Stage 3 weak vs full with the same recipe, beside the pseudo boxes, in one table of
docs/benchmarks.md: the default pipeline (stages 1-6), then the detector stages again
without refinement and on the true boxes (stages 1-2 shared):
``python tools/benchmark_stage3.py -c configs/pipeline/default.yml --name magnetic_tile
-o dataset_dir=../shared/data/magnetic_tile output_dir=output/stage3_magnetic_tile``."""
import _bootstrap  # noqa: F401  (must come first)

import os
import shlex
import sys

from ppdet_wsd.benchmarks.report import provenance
from ppdet_wsd.benchmarks.stage3 import VARIANTS, benchmark_stage3
from ppdet_wsd.pipeline.spec import load_pipeline_config, make_parser, parse_overrides

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTES = [
    '- every number is on the test split, measured once per row with the model after the '
    'fixed schedule; mAP via pycocotools over all test images (a box on a good image is a '
    'false positive); fit = the same mAP on the train split against the boxes the detector '
    'was trained on.',
    '- rows (a)-(c) never read a ground-truth box; (d) trains on the true boxes of the train '
    'split (the yardstick), everything else as (b).',
]


def main():
    parser = make_parser(__doc__)
    parser.add_argument('--name', required=True, help='dataset name for the section title')
    parser.add_argument('--doc', default=os.path.join(REPO, 'docs', 'benchmarks.md'))
    parser.add_argument('--variants', nargs='*', default=list(VARIANTS), choices=list(VARIANTS),
                        help='variants to run now (finished ones are kept in the table)')
    parser.add_argument('--seeds', nargs='*', type=int, default=[],
                        help='train the weak detector with and without refinement again with '
                             'each of these seeds (spread between runs; finished ones are kept)')
    parser.add_argument('--render_only', action='store_true',
                        help='run nothing: write the section from the reports of the folders')
    flags = parser.parse_args()
    spec = load_pipeline_config(flags.config, parse_overrides(flags.opt))
    benchmark_stage3(spec, 'python ' + shlex.join(sys.argv), flags.doc, flags.name,
                     provenance(REPO) + NOTES, flags.variants, flags.seeds,
                     flags.render_only)


if __name__ == '__main__':
    main()
