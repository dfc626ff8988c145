"""Speed, size and accuracy of the deploy paths (eager, Paddle Inference with oneDNN,
onnxruntime fp32 and int8) of a finished pipeline's detector, written into
docs/benchmarks.md: ``python tools/benchmark_deploy.py --pipeline_dir output/<run>
--name <dataset>``."""
import _bootstrap  # noqa: F401  (must come first)

import argparse
import os

import ppdet_wsd  # noqa: F401
from ppdet_wsd.benchmarks.deploy import benchmark_pipeline_detector, write_deploy_section
from ppdet_wsd.benchmarks.report import provenance
from ppdet_wsd_runtime.model_dir import read_infer_cfg
from ppdet_wsd_runtime.verdict import read_verdict

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTES = [
    '- each path runs end to end from the image file (decoding, preprocessing, the model, box '
    'decoding and NMS, the image verdict) on every core; img/s over the first test images '
    'after one warm-up call; latency = one call of that many images.',
    '- mAP@0.5 (pycocotools, class-aware) and the image verdict the export carries (miss = '
    'defective judged good, over-kill = good judged defective), on every test image; with a '
    'classifier or fusion verdict every path also runs the stage-1 classifier (eager, or its '
    'exported backbone on the same backend, float32 on the int8 path).',
    '- model MiB: the files each path loads (eager: its float32 parameters).',
]
SOURCES = {'detector': 'the detector', 'classifier': 'the stage-1 classifier',
           'fusion': 'fusion (mean of the detector and the stage-1 classifier)'}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--pipeline_dir', required=True,
                        help='a pipeline output folder that reached its export stage')
    parser.add_argument('--name', required=True, help='dataset name for the section title')
    parser.add_argument('--out_dir', default=None,
                        help='where the export and the rows go (default '
                             'output/benchmarks/deploy/<name>)')
    parser.add_argument('--speed_images', type=int, default=100)
    parser.add_argument('--calibration_images', type=int, default=32)
    parser.add_argument('--doc', default=os.path.join(REPO, 'docs', 'benchmarks.md'))
    flags = parser.parse_args()
    out_dir = flags.out_dir or os.path.join('output', 'benchmarks', 'deploy', flags.name)
    rows, model_dir = benchmark_pipeline_detector(flags.pipeline_dir, out_dir, flags.speed_images,
                                                  flags.calibration_images)
    verdict = read_verdict(read_infer_cfg(model_dir))
    judged = (f'- verdict: {SOURCES[verdict["source"]]} at {verdict["threshold"]:.3f}'
              + ('' if verdict['exported'] else ' (the export carries no verdict: the '
                 "detector at its operating threshold)"))
    write_deploy_section(flags.doc, f'deploy:{flags.name}', f'Deploy paths on {flags.name}',
                         provenance(REPO) + [f'- exported model: `{model_dir}`', judged] + NOTES,
                         rows)


if __name__ == '__main__':
    main()
