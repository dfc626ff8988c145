"""Run the whole pipeline and write its report numbers and wall time into docs/benchmarks.md:
``python tools/benchmark_pipeline.py -c configs/pipeline/default.yml --name magnetic_tile
-o dataset_dir=../shared/data/magnetic_tile output_dir=output/pipeline_magnetic_tile``.
Use a fresh output_dir: stages finished earlier keep the time of the run that made them."""
import _bootstrap  # noqa: F401  (must come first)

import os
import shlex
import sys

from ppdet_wsd.benchmarks.pipeline import benchmark_pipeline
from ppdet_wsd.pipeline.spec import load_pipeline_config, make_parser, parse_overrides

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = make_parser(__doc__)
    parser.add_argument('--name', required=True, help='dataset name for the section title')
    parser.add_argument('--doc', default=os.path.join(REPO, 'docs', 'benchmarks.md'))
    flags = parser.parse_args()
    spec = load_pipeline_config(flags.config, parse_overrides(flags.opt))
    benchmark_pipeline(spec, 'python ' + shlex.join(sys.argv), flags.doc, flags.name)


if __name__ == '__main__':
    main()
