"""Measure stages 1-2 (patch-evidence heat maps and pseudo boxes) on a dataset's test split,
with an ablation, and record the table in docs/benchmarks.md:
``python tools/benchmark_evidence.py --dataset_dir ../shared/data/magnetic_tile``."""
import _bootstrap  # noqa: F401  (must come first)

import argparse
import os

import ppdet_wsd  # noqa: F401
from ppdet_wsd.benchmarks.evidence import VARIANTS, benchmark_evidence, render_evidence_section
from ppdet_wsd.evidence.settings import PatchEvidence

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTES = [
    '- fitted on train (+ val for the levels) with the default `PatchEvidence` settings; the '
    'test split is read once per variant. Pseudo boxes are made for the classes of each test '
    "image's label, as for training images (good images get none); mAP via pycocotools over "
    'all test images. MaxBoxAccV2 (IoU 0.3/0.5/0.7, threshold swept on min-max normalised '
    'maps against the true boxes: an upper bound) and PxAP over the boxed defective test '
    'images. "good test images boxed": share of good test images where some class map passes '
    'its level, no label used (the false-alarm rate of the levels).',
    '- "maps+boxes img/s": maps, boxes and contrast tightening from cached features (incl. '
    'reading the image for tightening); add the feature extraction rate above for a new image.',
]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--dataset_dir', required=True)
    parser.add_argument('--output_dir', default=None,
                        help='features and results (default output/benchmarks/evidence/<name>)')
    parser.add_argument('--variants', nargs='+', default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument('--doc', default=os.path.join(REPO, 'docs', 'benchmarks.md'))
    flags = parser.parse_args()
    name = os.path.basename(os.path.normpath(flags.dataset_dir))
    output_dir = flags.output_dir or os.path.join('output', 'benchmarks', 'evidence', name)
    results = benchmark_evidence(flags.dataset_dir, output_dir, PatchEvidence(), flags.variants,
                                 REPO)
    render_evidence_section(results, flags.doc, f'evidence:{name}',
                            f'Stages 1-2, patch evidence: {name}', REPO, NOTES)


if __name__ == '__main__':
    main()
