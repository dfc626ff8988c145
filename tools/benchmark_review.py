"""Measure what reviewing N training images per class does to the pseudo boxes, with a
reviewer SIMULATED from the ground truth, and record the table in docs/benchmarks.md:
``python tools/benchmark_review.py --dataset_dir /tmp/demo/synthetic``."""
import _bootstrap  # noqa: F401  (must come first)

import argparse
import os

import ppdet_wsd  # noqa: F401
from ppdet_wsd.benchmarks.review import benchmark_review, render_review_section
from ppdet_wsd.evidence.settings import PatchEvidence

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--dataset_dir', required=True)
    parser.add_argument('--output_dir', default=None,
                        help='features and results (default output/benchmarks/review/<name>)')
    parser.add_argument('--per_class', nargs='+', type=int, default=[0, 5, 20],
                        help='reviewed images per class, one row each')
    parser.add_argument('--pipeline_config', default=None,
                        help='also train and measure the detector of this pipeline config '
                             'on each reviewed set of pseudo boxes (slow: one pipeline run '
                             'from the pseudo boxes on per row)')
    parser.add_argument('--doc', default=os.path.join(REPO, 'docs', 'benchmarks.md'))
    flags = parser.parse_args()
    name = os.path.basename(os.path.normpath(flags.dataset_dir))
    output_dir = flags.output_dir or os.path.join('output', 'benchmarks', 'review', name)
    results = benchmark_review(flags.dataset_dir, output_dir, PatchEvidence(), flags.per_class,
                               REPO, flags.pipeline_config)
    render_review_section(results, flags.doc, f'review:{name}',
                          f'Pseudo-box review, simulated reviewer: {name}', REPO)


if __name__ == '__main__':
    main()
