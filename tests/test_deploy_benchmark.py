"""The deploy benchmark on the tiny detector: every path measured, the exported paths as
accurate as the eager model, and the table in the benchmarks document."""
import json
import os

import numpy as np
import pytest
from ppdet.data.reader import Compose

from deploy_fixture import CLASSES, THRESHOLD, TRANSFORMS, export_tiny
from ppdet_wsd.benchmarks.deploy import (PATHS, benchmark_paths, deploy_predictors,
                                         int8_decision, write_deploy_section)
from ppdet_wsd.data.ground_truth import load_ground_truth
from ppdet_wsd.data.image_label_dataset import ImageLabelDataSet
from ppdet_wsd.data.labels import file_key
from ppdet_wsd.deploy.onnx_export import export_onnx, onnx_unavailable_reason
from ppdet_wsd.deploy.quantize import quantize_int8
from ppdet_wsd.deploy.verdict_export import ExportVerdict
from tiny_models import tiny_detector
from tool_runner import run_tool

ONNX_REASON = onnx_unavailable_reason()


@pytest.fixture(scope='module')
def split(tiny_dataset):
    """The tiny dataset's test split (2 good images, 1 per class) with its box truth."""
    dataset = ImageLabelDataSet(dataset_dir=tiny_dataset, split='test')
    dataset.check_or_download_dataset()
    dataset.parse_dataset()
    files = [file_key(r['im_file'], dataset.image_root) for r in dataset.roidbs]
    return {'paths': [r['im_file'] for r in dataset.roidbs], 'files': files,
            'labels': np.stack([r['img_label'] for r in dataset.roidbs]),
            'truth': load_ground_truth(tiny_dataset, files)}


def test_every_path_is_measured_and_tabulated(split, tiny_evidence, tmp_path):
    """With a fusion verdict: every path judges by it (the untrained tiny detector alone,
    scoring ~0.01, would miss every defective image) and carries the stage-1 backbone."""
    model = tiny_detector(cache_features=False)
    model.eval()
    verdict = ExportVerdict('fusion', 0.4, tiny_evidence)
    model_dir = export_tiny(model, str(tmp_path), detector=True, verdict=verdict)
    if not ONNX_REASON:
        export_onnx(model_dir)
        quantize_int8(model_dir, split['paths'])
    rows = benchmark_paths(deploy_predictors(model, Compose(TRANSFORMS), model_dir, verdict),
                           split, CLASSES, THRESHOLD, split['paths'][:3], batch_sizes=(1, 2),
                           verdict_threshold=verdict.threshold)
    by_path = {r['path']: r for r in rows}
    assert by_path['eager']['accuracy']['miss_rate'] < 1.0
    assert list(by_path) == list(PATHS)
    exact = ['eager', 'paddle'] + ([] if ONNX_REASON else ['onnx'])
    for name in exact:
        row = by_path[name]
        assert row['available'] and set(row['speed']) == {1, 2}
        assert row['speed'][1]['calls'] == 3 and row['speed'][2]['calls'] == 2
        assert row['size_mb'] > 12, 'the stage-1 backbone counts'
        assert row['accuracy'] == pytest.approx(by_path['eager']['accuracy'], abs=1e-6), name
    assert by_path['eager']['accuracy']['map50'] is not None
    if ONNX_REASON:
        assert by_path['onnx-int8'] == {'path': 'onnx-int8', 'available': False,
                                        'reason': ONNX_REASON}
    doc = tmp_path / 'benchmarks.md'
    doc.write_text('# Benchmarks\n\nintro kept\n')
    write_deploy_section(str(doc), 'deploy:tiny', 'Deploy paths on tiny', ['- notes'], rows,
                         batch_sizes=(1, 2))
    text = doc.read_text()
    assert 'intro kept' in text and '## Deploy paths on tiny' in text
    table = [line for line in text.splitlines() if line.startswith('| ')]
    assert table[0].startswith('| path | img/s, batch 1 | img/s, batch 2 |')
    assert [line.split(' | ')[0][2:] for line in table[1:]] == list(PATHS.values())
    eager_map = f'{by_path["eager"]["accuracy"]["map50"]:.3f}'
    assert f'| {eager_map} |' in table[1] and f'| {eager_map} |' in table[2]
    assert ('int8 kept' in text or 'int8 not kept' in text) == (ONNX_REASON is None)


def test_int8_is_kept_only_within_one_point_of_map_and_of_each_verdict_rate():
    def rows(fp32, int8, int8_miss=0.1):
        return [{'path': p, 'available': True, 'accuracy': {'map50': m, 'miss_rate': miss,
                                                            'overkill_rate': 0.0}}
                for p, m, miss in (('onnx', fp32, 0.1), ('onnx-int8', int8, int8_miss))]
    assert int8_decision(rows(0.300, 0.291)).startswith(
        'int8 kept: mAP@0.5 0.291 vs fp32 0.300 (-0.9 points')
    assert int8_decision(rows(0.300, 0.289)).startswith('int8 not kept')
    assert int8_decision(rows(0.070, 0.077, int8_miss=0.494)).startswith(
        'int8 not kept: mAP@0.5 0.077 vs fp32 0.070 (+0.7 points')
    assert int8_decision(rows(0.070, 0.077, int8_miss=0.105)).startswith('int8 kept')
    assert int8_decision(rows(None, 0.2)) is None and int8_decision(rows(0.3, 0.3)[:1]) is None


@pytest.mark.slow
def test_the_tool_measures_a_finished_pipeline(tiny_dataset, tmp_path):
    """The tiny pipeline (tests/test_pipeline_run.py), then tools/benchmark_deploy.py on it,
    with the verdict its evaluation chose set to the fusion (the tiny run's val AUROC ties,
    so the detector wins them): every path judges by the exported fusion."""
    from test_pipeline_run import tiny_pipeline
    run_tool('run_pipeline.py', '-c', tiny_pipeline(str(tmp_path), tiny_dataset),
             cwd=str(tmp_path))
    metrics_file = tmp_path / 'out' / 'evaluation' / 'metrics.json'
    metrics = json.loads(metrics_file.read_text())
    assert metrics['verdict']['source'] == 'detector'
    metrics['verdict'].update(source='fusion', threshold=0.3)
    metrics_file.write_text(json.dumps(metrics))
    doc = tmp_path / 'benchmarks.md'
    run_tool('benchmark_deploy.py', '--pipeline_dir', 'out', '--name', 'tiny', '--out_dir',
             'bench', '--speed_images', '4', '--calibration_images', '4', '--doc', str(doc),
             cwd=str(tmp_path))
    saved = json.load(open(tmp_path / 'bench' / 'deploy_benchmark.json'))
    assert saved['verdict'] == {'source': 'fusion', 'threshold': 0.3}
    assert os.path.isfile(os.path.join(saved['model_dir'], 'evidence.npz'))
    rows = {r['path']: r for r in saved['rows']}
    assert rows['paddle']['accuracy'] == pytest.approx(rows['eager']['accuracy'], abs=1e-6)
    assert os.path.isfile(os.path.join(saved['model_dir'], 'infer_cfg.yml'))
    text = doc.read_text()
    assert '## Deploy paths on tiny' in text and '- command: `python ' in text
    assert '- verdict: fusion (mean of the detector and the stage-1 classifier) at 0.300' in text
    assert all(label in text for label in PATHS.values())
