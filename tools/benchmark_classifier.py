"""Train and measure stage 1, recording results in docs/benchmarks.md:
``python tools/benchmark_classifier.py -c configs/cam/efficientnet_lite0_magnetic_tile.yml``."""
import _bootstrap  # must come first
_bootstrap.training_threads()

import os

import ppdet_wsd  # noqa: F401
from ppdet_wsd.benchmarks.classifier import benchmark_classifier
from ppdet_wsd.engine.config import load_run_config, make_parser

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = make_parser(__doc__)
    parser.add_argument('--doc', default=os.path.join(REPO, 'docs', 'benchmarks.md'))
    flags = parser.parse_args()
    cfg = load_run_config(flags)
    benchmark_classifier(cfg, REPO, flags.doc, key=f'classifier:{cfg.filename}')


if __name__ == '__main__':
    main()
