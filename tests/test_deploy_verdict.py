"""The image verdict an export carries (``infer_cfg.yml: verdict``): the stage-1 classifier
in the runtime (numpy / OpenCV around its exported backbone) equals the plugin's
``EvidenceModel.image_scores``, and the runner judges every image by the exported source
and threshold; the stage-1 heat maps an export may carry equal ``EvidenceModel.maps``."""
import copy
import glob
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import yaml
from scipy.ndimage import uniform_filter

from conftest import REPO_ROOT
from deploy_fixture import (CLASSES, EVIDENCE_GEOMETRY, LITE_CANVAS, THRESHOLD,
                            assert_same_detections,
                            eager_detections, eager_evidence_scores, export_tiny, odd_images)
from ppdet_wsd.deploy.onnx_export import export_onnx, onnx_unavailable_reason
from ppdet_wsd.deploy.quantize import quantize_int8
from ppdet_wsd.deploy.verdict_export import ExportVerdict
from ppdet_wsd_runtime.drawing import draw_detection
from ppdet_wsd_runtime.evidence_input import InputGeometry, patch_descriptors
from ppdet_wsd_runtime.image_io import read_image_rgb
from ppdet_wsd_runtime.model_dir import ModelFolderError, paddle_model_files
from ppdet_wsd_runtime.predictor import ExportedDetector
from ppdet_wsd_runtime.results import detector_class_scores
from ppdet_wsd_runtime.runner import run_deploy
from test_deploy_runtime import assert_runtime_only, imported_modules
from tiny_models import tiny_detector

ONNX_REASON = onnx_unavailable_reason()
VERDICT_THRESHOLD = 0.4  # fusion: the untrained tiny detector scores ~0.01
SCORE_TOLERANCE = 2e-5  # oneDNN's backbone vs the eager one, through the scores
# the real backbone under a tiny untrained head: exported boxes differ from eager ones by up
# to 1.5e-3 px in the two-graph export too (float sums in another order, measured)
LITE_BOX_TOLERANCE = 5e-3


@pytest.fixture(scope='module')
def images(tiny_dataset, tmp_path_factory):
    """``(paths: 10 tiny-dataset images + 4 odd ones (sizes, grey, 16-bit, RGBA), a
    folder with all of them)``."""
    folder = tmp_path_factory.mktemp('verdict_images')
    odd = odd_images(str(folder / 'odd'))
    tiny = sorted(glob.glob(os.path.join(tiny_dataset, 'images', '*')))[::3]
    for path in tiny:
        os.symlink(path, folder / os.path.basename(path))
    return tiny + odd, str(folder)


@pytest.fixture(scope='module')
def detector():
    model = tiny_detector()
    model.eval()
    return model


@pytest.fixture(scope='module')
def fusion_export(detector, tiny_evidence, tmp_path_factory):
    """The tiny detector exported with a fusion verdict of the tiny stage-1 model."""
    return export_tiny(detector, str(tmp_path_factory.mktemp('fusion')), True,
                       ExportVerdict('fusion', VERDICT_THRESHOLD, tiny_evidence))


@pytest.fixture(scope='module')
def eager(detector, tiny_evidence, images):
    """The eager models' class scores of ``images``: ``{'detector', 'classifier'}``
    float32 ``[N, C]`` each."""
    paths = images[0]
    return {'detector': np.stack([detector_class_scores(d, s)
                                  for d, s in eager_detections(detector, paths)]),
            'classifier': eager_evidence_scores(tiny_evidence, paths)}


def _scipy_descriptors(fine, coarse, context):
    """The reference: the stride-16 map resized to the stride-8 grid next to it, averaged
    with scipy's uniform_filter (edges repeated)."""
    rows, cols = fine.shape[1:]
    up = cv2.resize(np.ascontiguousarray(coarse.transpose(1, 2, 0)), (cols, rows),
                    interpolation=cv2.INTER_LINEAR).reshape(rows, cols, -1)
    desc = np.concatenate([fine.transpose(1, 2, 0), up], axis=2)
    return uniform_filter(desc, size=(context, context, 1), mode='nearest')


def test_the_patch_descriptors_are_scipys_neighbourhood_mean():
    """The one descriptor definition (plugin and runtime) equals scipy's filter bit for
    bit, so features cached before it replaced scipy stay valid."""
    rng = np.random.RandomState(0)
    for rows, cols in ((13, 17), (1, 5), (2, 2)):
        fine = (5 * rng.randn(40, rows, cols)).astype(np.float32)
        coarse = (5 * rng.randn(112, (rows + 1) // 2, (cols + 1) // 2)).astype(np.float32)
        for context in (1, 2, 3, 4, 5):
            np.testing.assert_array_equal(patch_descriptors(fine, coarse, context),
                                          _scipy_descriptors(fine, coarse, context))


def test_exported_classifier_scores_equal_the_evidence_model(fusion_export, images, eager):
    exported = ExportedDetector(fusion_export)
    assert exported.verdict == {'source': 'fusion', 'threshold': VERDICT_THRESHOLD,
                                'evidence': exported.verdict['evidence'], 'exported': True}
    judged = exported.judge(images[0])
    classifier = np.stack([j['classifier_scores'] for j in judged])
    detector = np.stack([j['detector_scores'] for j in judged])
    np.testing.assert_allclose(classifier, eager['classifier'], atol=SCORE_TOLERANCE, rtol=0)
    np.testing.assert_allclose(detector, eager['detector'], atol=1e-5, rtol=0)
    np.testing.assert_allclose(np.stack([j['scores'] for j in judged]),
                               0.5 * (detector + classifier), atol=1e-7, rtol=0)
    assert 0.3 < classifier.max(axis=1).mean() < 0.9, 'scores of a fitted model, not constants'
    # the program is evidence.json (paddle 3's PIR) or evidence.pdmodel (paddle 2.6)
    assert all(os.path.isfile(f) for f in paddle_model_files(fusion_export, 'evidence'))
    assert 'evidence.npz' in os.listdir(fusion_export)
    assert exported.size_mb > exported.backend.size_mb + 12, 'the evidence backbone counts'


def _expected_verdicts(scores, threshold):
    defect = scores.max(axis=1)
    assert np.all(np.abs(defect - threshold) > 1e-4), 'no score on the threshold'
    return ['defective' if s >= threshold else 'good' for s in defect], defect


def test_the_runner_judges_by_the_exported_fusion(fusion_export, images, eager, tmp_path):
    paths, folder = images
    document = run_deploy(fusion_export, folder, str(tmp_path / 'b3'), batch_size=3, draw=True)
    assert document['verdict'] == {'source': 'fusion', 'threshold': VERDICT_THRESHOLD,
                                   'exported': True}
    assert document['operating_threshold'] == pytest.approx(THRESHOLD)
    by_file = {os.path.realpath(r['file']): r for r in document['images']}
    fusion = 0.5 * (eager['detector'] + eager['classifier'])
    verdicts, defect = _expected_verdicts(fusion, VERDICT_THRESHOLD)
    assert 'defective' in verdicts and 'good' in verdicts
    for path, verdict, score, det, cls in zip(paths, verdicts, defect, eager['detector'],
                                              eager['classifier']):
        result = by_file[os.path.realpath(path)]
        assert result['verdict'] == verdict and result['defect_score'] == pytest.approx(
            score, abs=SCORE_TOLERANCE)
        assert [result['source_scores']['classifier'][c] for c in CLASSES] == pytest.approx(
            cls, abs=SCORE_TOLERANCE)
        assert [result['source_scores']['detector'][c] for c in CLASSES] == pytest.approx(
            det, abs=1e-5)
        assert all(b['score'] >= THRESHOLD for b in result['boxes'])
        assert os.path.isfile(result['picture'])
    one = run_deploy(fusion_export, folder, str(tmp_path / 'b1'), batch_size=1)
    for a, b in zip(one['images'], document['images'], strict=True):
        assert a['verdict'] == b['verdict'] and a['scores'] == pytest.approx(b['scores'],
                                                                             abs=1e-6)


@pytest.mark.parametrize('export, flags', [('fusion_export', []),
                                           ('heat_export', ['--draw', '--heatmaps'])])
def test_the_runner_command_with_a_fusion_verdict_imports_no_ppdet(export, flags, images,
                                                                   tmp_path, request):
    """Also with the heat maps: numpy and OpenCV only, neither scipy nor scikit-learn."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO_ROOT,
                                                       os.environ.get('PYTHONPATH', '')]))
    result = subprocess.run([sys.executable, '-X', 'importtime', '-m', 'ppdet_wsd_runtime',
                             request.getfixturevalue(export), os.path.join(images[1], 'odd'),
                             '--out', str(tmp_path)] + flags, cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    imported = imported_modules(result.stderr)
    assert 'ppdet_wsd_runtime.evidence' in imported
    assert_runtime_only(imported)
    assert not {m for m in imported if m.split('.')[0] in ('scipy', 'sklearn')}
    assert f'(verdict: fusion at {VERDICT_THRESHOLD:.3f})' in result.stdout
    document = json.loads((tmp_path / 'results.json').read_text())
    assert len(document['images']) == 4 and document['verdict']['source'] == 'fusion'
    assert document['heat_map'] == ('fused' if flags else None)
    if flags:
        assert all(os.path.isfile(r['heatmap']) and os.path.isfile(r['picture'])
                   for r in document['images'])


@pytest.mark.parametrize('source, threshold', [('classifier', 0.7), ('detector', 0.5)])
def test_a_classifier_or_detector_verdict(source, threshold, detector, tiny_evidence, images,
                                          eager, tmp_path):
    """A classifier verdict judges on the stage-1 scores alone; a detector verdict carries
    only its source and threshold (no evidence files) and judges like an export without a
    verdict, at its own threshold."""
    model_dir = export_tiny(detector, str(tmp_path), True,
                            ExportVerdict(source, threshold, tiny_evidence))
    with open(os.path.join(model_dir, 'infer_cfg.yml')) as f:
        section = yaml.safe_load(f)['verdict']
    assert section['source'] == source and section['classes'] == CLASSES
    assert ('evidence' in section) == (source == 'classifier')
    assert os.path.isfile(os.path.join(model_dir, 'evidence.npz')) == (source == 'classifier')
    document = run_deploy(model_dir, images[1], str(tmp_path / 'out'), batch_size=4)
    verdicts, defect = _expected_verdicts(eager[source], threshold)
    by_file = {os.path.realpath(r['file']): r for r in document['images']}
    for path, verdict, score in zip(images[0], verdicts, defect):
        result = by_file[os.path.realpath(path)]
        assert result['verdict'] == verdict
        assert result['defect_score'] == pytest.approx(score, abs=SCORE_TOLERANCE)
        assert ('source_scores' in result) == (source == 'classifier')


def test_an_export_without_a_verdict_judges_by_the_detector(detector, images, eager, tmp_path):
    model_dir = export_tiny(detector, str(tmp_path), True)
    document = run_deploy(model_dir, images[1], str(tmp_path / 'out'))
    assert document['verdict'] == {'source': 'detector', 'threshold': pytest.approx(THRESHOLD),
                                   'exported': False}
    verdicts, _ = _expected_verdicts(eager['detector'], THRESHOLD)
    by_file = {os.path.realpath(r['file']): r['verdict'] for r in document['images']}
    assert [by_file[os.path.realpath(p)] for p in images[0]] == verdicts


@pytest.mark.skipif(ONNX_REASON is not None, reason=str(ONNX_REASON))
def test_onnx_carries_the_evidence_backbone_in_float32(fusion_export, images, eager, tmp_path):
    """``--onnx`` converts the evidence backbone too; with ``--int8`` only the detector is
    quantised, so the classifier scores stay the eager model's."""
    import shutil
    model_dir = str(tmp_path / 'fusion')
    shutil.copytree(fusion_export, model_dir)
    export_onnx(model_dir)
    quantize_int8(model_dir, images[0][:4])
    assert {'evidence.onnx', 'model.onnx', 'model_int8.onnx'} <= set(os.listdir(model_dir))
    for int8 in (False, True):
        judged = ExportedDetector(model_dir, backend='onnx', int8=int8).judge(images[0])
        np.testing.assert_allclose(np.stack([j['classifier_scores'] for j in judged]),
                                   eager['classifier'], atol=SCORE_TOLERANCE, rtol=0)


def _write_cfg(model_dir, change):
    path = os.path.join(model_dir, 'infer_cfg.yml')
    with open(path) as f:
        cfg = yaml.safe_load(f)
    change(cfg)
    with open(path, 'w') as f:
        yaml.safe_dump(cfg, f)


@pytest.mark.parametrize('change, message', [
    (lambda c: c['verdict'].update(source='vote'), 'verdict.source must be one of'),
    (lambda c: c['verdict'].pop('threshold'), 'verdict.threshold must be a number'),
    (lambda c: c['verdict'].update(classes=['a', 'b', 'c']), 'verdict.classes'),
    (lambda c: c['verdict']['evidence'].pop('geometry'), 'needs verdict.evidence with geometry'),
])
def test_a_broken_verdict_section_is_a_clear_error(change, message, fusion_export, tmp_path):
    import shutil
    model_dir = str(tmp_path / 'model')
    shutil.copytree(fusion_export, model_dir)
    _write_cfg(model_dir, change)
    with pytest.raises(ModelFolderError, match=message):
        ExportedDetector(model_dir)


def test_missing_evidence_files_are_clear_errors(fusion_export, tmp_path):
    import shutil
    model_dir = str(tmp_path / 'model')
    shutil.copytree(fusion_export, model_dir)
    os.remove(os.path.join(model_dir, 'evidence.npz'))
    with pytest.raises(ModelFolderError, match='evidence.npz: not found'):
        ExportedDetector(model_dir)
    shutil.copy(os.path.join(fusion_export, 'evidence.npz'), model_dir)
    os.remove(os.path.join(model_dir, 'evidence.pdiparams'))
    with pytest.raises(ModelFolderError, match='evidence.pdiparams: not found'):
        ExportedDetector(model_dir)


def test_the_export_refuses_a_verdict_it_cannot_carry(detector, tiny_evidence, tmp_path):
    with pytest.raises(ValueError, match='needs the stage-1 evidence model'):
        ExportVerdict('fusion', 0.5)
    with pytest.raises(ValueError, match='source must be one of'):
        ExportVerdict('vote', 0.5)
    from deploy_fixture import tiny_cfg
    from ppdet_wsd.deploy.export import export_model
    with pytest.raises(ValueError, match='classes .* differ'):
        export_model(detector, tiny_cfg('detector'), ['a', 'b', 'c'], str(tmp_path), True,
                     ExportVerdict('fusion', 0.5, tiny_evidence))
    assert not os.listdir(tmp_path), 'nothing half-written'
    with pytest.raises(ValueError, match='only a detector export'):
        export_model(detector, tiny_cfg('classifier'), CLASSES, str(tmp_path), False,
                     ExportVerdict('detector', 0.5))


def test_the_evidence_geometry_of_the_export_is_the_models(fusion_export, tiny_evidence):
    with open(os.path.join(fusion_export, 'infer_cfg.yml')) as f:
        evidence = yaml.safe_load(f)['verdict']['evidence']
    assert evidence['geometry'] == vars(EVIDENCE_GEOMETRY)
    assert evidence['top_fraction'] == tiny_evidence.mil.top_fraction
    with np.load(os.path.join(fusion_export, 'evidence.npz')) as arrays:
        np.testing.assert_array_equal(arrays['mil_weight'], tiny_evidence.mil.weight)
        np.testing.assert_array_equal(arrays['probe_coef'], tiny_evidence.probe.coef)


# ---------------------------------------------------------------- stage-1 heat maps
# the runtime's maps against EvidenceModel.maps (the same search, on the float32 bank): on
# the same descriptors only the float16 bank differs (relative to the map's largest value) ...
MAP_TOLERANCE_SAME_INPUT = 1e-3
# ... and through the exported backbone, whose float16 descriptors may round the other way
MAP_TOLERANCE = 2e-3
MARK_FLOOR = 2e-3  # share of the largest map value below which a cell names no class


@pytest.fixture(scope='module')
def heat_export(detector, tiny_evidence, tmp_path_factory):
    """The tiny detector exported with a fusion verdict and the stage-1 heat maps."""
    return export_tiny(detector, str(tmp_path_factory.mktemp('heat')), True,
                       ExportVerdict('fusion', VERDICT_THRESHOLD, tiny_evidence, heat_maps=True))


@pytest.fixture(scope='module')
def eager_features(tiny_evidence, images):
    """The eager stage-1 features of ``images`` (as the pipeline computes and caches them)."""
    from ppdet_wsd.evidence.features import FeatureExtractor
    extractor = FeatureExtractor(InputGeometry(**tiny_evidence.geometry))
    return [extractor(read_image_rgb(p)) for p in images[0]]


def mil_model(model):
    """``model`` as a ``mil`` evidence model: no bank, one set of levels per class (one
    without a level: scaled to the map's maximum)."""
    from ppdet_wsd.evidence.calibration import ClassLevels
    mil = copy.copy(model)
    mil.heat_map, mil.bank = 'mil', None
    mil.levels = {c: ClassLevels(level=None if k == 0 else 0.5 + 0.1 * k, background=0.1,
                                 centre=0.5, spread=0.1, negatives=5)
                  for k, c in enumerate(model.classes)}
    return mil


def _assert_same_maps(mine, eager, tolerance):
    """Equal maps of a set of images (lists of ``[C, rows, cols]``): the same class picked
    in every cell the map marks (above ``MARK_FLOOR`` of the set's largest value), values
    within ``tolerance`` of that value. A good training image's own patches lie in the bank:
    their distance is 0, so such cells name no class.
    Returns the largest difference relative to that value."""
    scale = max(float(e.max()) for e in eager)
    worst = 0.0
    for m, e in zip(mine, eager, strict=True):
        assert m.shape == e.shape
        worst = max(worst, float(np.abs(m - e).max()) / scale)
        marked = e.max(axis=0) > max(tolerance, MARK_FLOOR) * scale
        np.testing.assert_array_equal(m.argmax(axis=0)[marked], e.argmax(axis=0)[marked])
    assert worst <= tolerance
    return worst


def test_the_nearest_patch_search_is_exact_in_blocks():
    from ppdet_wsd_runtime.evidence_maps import nearest_distances
    rng = np.random.RandomState(1)
    bank = (3 * rng.randn(257, 19)).astype(np.float32)
    queries = np.concatenate([bank[::7] + 1e-4, 3 * rng.randn(1500, 19)]).astype(np.float32)
    exact = np.sqrt(((queries[:, None].astype(np.float64) - bank[None]) ** 2).sum(-1)).min(1)
    for block in (1, 100, 1 << 22):  # one product per block ... everything at once
        np.testing.assert_allclose(nearest_distances(queries, bank, block_elements=block),
                                   exact, rtol=1e-6, atol=1e-6)


def test_the_level_scale_puts_the_background_at_0_and_the_level_at_half():
    from ppdet_wsd_runtime.evidence_maps import level_scaled
    grid = np.array([[8.6, 16.45], [24.3, 60.0]], np.float32)
    np.testing.assert_allclose(level_scaled(grid, 24.3, 8.6), [[0, 0.25], [0.5, 1]], atol=1e-6)
    # without a level the map's maximum takes the level's place
    np.testing.assert_allclose(level_scaled(grid, None, 8.6),
                               (grid - 8.6) / (2 * (60.0 - 8.6)), atol=1e-6)
    assert level_scaled(np.full((2, 2), 3.0), 3.0, 3.0).max() == 0.0, 'a flat map stays 0'


def test_heat_maps_equal_the_evidence_model(heat_export, tiny_evidence, images, eager_features):
    """The exported maps (float16 bank) are ``EvidenceModel.maps`` (float32 bank): on
    the same descriptors, and through the exported backbone; with the float32 bank they
    are the same maps (one search, :func:`ppdet_wsd_runtime.evidence_maps.nearest_distances`)."""
    from ppdet_wsd_runtime.evidence_maps import EvidenceMaps
    assert tiny_evidence.heat_map == 'fused'
    exported = ExportedDetector(heat_export)
    assert exported.heat_map == 'fused'
    maps = exported.evidence.maps
    scale = tiny_evidence.bank.ring_scale
    assert not np.allclose(scale, 1.0), 'the fixture scales its map by distance from the edge'
    np.testing.assert_allclose(maps.ring_scale, scale, rtol=1e-6)
    full = EvidenceMaps('fused', maps.levels, CLASSES, maps.scorer, tiny_evidence.bank.bank,
                        scale)
    eager = [tiny_evidence.maps(f) for f in eager_features]
    for f, e in zip(eager_features, eager, strict=True):
        np.testing.assert_array_equal(full.grid_maps(f.patches), e)
    float16 = _assert_same_maps([maps.grid_maps(f.patches) for f in eager_features], eager,
                                MAP_TOLERANCE_SAME_INPUT)
    judged = exported.judge(images[0], maps=True)
    through = _assert_same_maps([j['maps'] for j in judged], eager, MAP_TOLERANCE)
    print(f'\nfused map vs EvidenceModel.maps, max |difference| / largest value: same '
          f'descriptors {float16:.1e}, through the exported '
          f'backbone {through:.1e}')
    assert all(j['maps'].max() > 0 for j in judged)
    # the map drawn: the verdict's top class, level-scaled, at image size
    heat, best = exported.image_map(judged[0], eager_features[0].image_hw)
    assert best == int(np.argmax(judged[0]['scores']))
    assert heat.shape == eager_features[0].image_hw and 0 <= heat.min() <= heat.max() <= 1


def test_a_mil_models_maps_come_with_the_stage1_model(detector, tiny_evidence, images,
                                                     eager_features, tmp_path):
    """A ``mil`` model's maps (the patch classifier's probability) need no bank: exported
    whenever the stage-1 model is, without the option."""
    mil = mil_model(tiny_evidence)
    model_dir = export_tiny(detector, str(tmp_path), True,
                            ExportVerdict('classifier', 0.7, mil))
    assert 'evidence_bank.npy' not in os.listdir(model_dir)
    exported = ExportedDetector(model_dir)
    assert exported.heat_map == 'mil'
    for j, features in zip(exported.judge(images[0], maps=True), eager_features, strict=True):
        eager = mil.maps(features)
        np.testing.assert_allclose(exported.evidence.maps.grid_maps(features.patches), eager,
                                   atol=1e-6, rtol=0)
        np.testing.assert_allclose(j['maps'], eager, atol=MAP_TOLERANCE, rtol=0)
    heat, best = exported.image_map(j, features.image_hw)
    scale = mil.levels_of(CLASSES[best])
    from ppdet_wsd_runtime.evidence_maps import level_scaled
    np.testing.assert_allclose(heat, np.clip(cv2.resize(
        level_scaled(eager[best], scale.level, scale.background), features.image_hw[::-1]),
        0, 1), atol=MAP_TOLERANCE)


def test_draw_and_heatmaps_show_the_verdicts_class_map(heat_export, images, tmp_path,
                                                      monkeypatch):
    import ppdet_wsd_runtime.runner as runner
    captions = []  # the class each picture names (the tiny pictures are too narrow to read)

    def drawing(image, result, classes, heat=None, heat_class=None):
        captions.append((result['file'], heat_class))
        return draw_detection(image, result, classes, heat, heat_class)

    monkeypatch.setattr(runner, 'draw_detection', drawing)
    paths, folder = images
    document = run_deploy(heat_export, folder, str(tmp_path / 'out'), batch_size=3, draw=True,
                          heatmaps=True)
    assert captions == [(r['file'], r['heatmap_class']) for r in document['images']]
    assert document['heat_map'] == 'fused'
    exported = ExportedDetector(heat_export)
    by_file = {os.path.realpath(r['file']): r for r in document['images']}
    for path, judged in zip(paths, exported.judge(paths, maps=True)):
        result = by_file[os.path.realpath(path)]
        heat = np.load(result['heatmap'])
        image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        expected, best = exported.image_map(judged, image.shape[:2])
        assert heat.dtype == np.float16 and heat.shape == image.shape[:2]
        assert result['heatmap_class'] == CLASSES[best] == max(result['scores'],
                                                               key=result['scores'].get)
        np.testing.assert_allclose(heat, expected, atol=MAP_TOLERANCE)
        # the picture: the boxes over the map (not the boxes alone), captioned with its class
        picture = cv2.cvtColor(cv2.imread(result['picture']), cv2.COLOR_BGR2RGB).astype(int)
        rgb = read_image_rgb(path)
        drawn = draw_detection(rgb, result, CLASSES, expected, CLASSES[best])
        plain = draw_detection(rgb, result, CLASSES)
        assert np.abs(picture - drawn).mean() < 1 < np.abs(picture - plain)[22:].mean()


def test_an_export_without_the_option_has_no_heat_maps(fusion_export, heat_export, images,
                                                      tmp_path):
    """No bank, no heat-map section: the runner draws the boxes alone and refuses
    ``--heatmaps``; the option's cost is the float16 bank alone."""
    assert 'evidence_bank.npy' not in os.listdir(fusion_export)
    with open(os.path.join(fusion_export, 'infer_cfg.yml')) as f:
        assert 'heat_map' not in yaml.safe_load(f)['verdict']['evidence']
    exported = ExportedDetector(fusion_export)
    assert exported.heat_map is None and exported.evidence.maps is None
    assert all(j['maps'] is None for j in exported.judge(images[0][:2], maps=True))
    document = run_deploy(fusion_export, images[0][0], str(tmp_path / 'out'), draw=True)
    assert document['heat_map'] is None and 'heatmap_class' not in document['images'][0]
    with pytest.raises(ValueError, match='--heatmaps: .* has no heat maps'):
        run_deploy(fusion_export, images[0][0], str(tmp_path / 'out'), heatmaps=True)
    # the size cost: evidence_bank.npy, float16, half the float32 bank
    bank = os.path.join(heat_export, 'evidence_bank.npy')
    extra = set(os.listdir(heat_export)) - set(os.listdir(fusion_export))
    assert extra == {'evidence_bank.npy'}
    stored = np.load(bank)
    assert stored.dtype == np.float16 and stored.shape[1] == 152
    assert os.path.getsize(bank) - 128 == stored.size * 2  # the .npy header: 128 bytes
    with_maps = ExportedDetector(heat_export)
    graphs = with_maps.backend.size_mb + with_maps.evidence.backend.size_mb
    assert with_maps.size_mb - graphs == pytest.approx(os.path.getsize(bank) / 2**20)
    print(f'\nheat maps add {os.path.getsize(bank) / 2**10:.0f} KiB ({len(stored)} bank '
          f'patches x 152, float16) to the tiny export')


def test_a_detector_verdict_with_heat_maps_judges_by_the_detector(detector, tiny_evidence,
                                                                  images, eager, tmp_path):
    """``heat_maps`` brings the stage-1 model into a detector verdict's export for the
    maps only: the verdicts stay the detector's, and the stage-1 pass runs only for maps."""
    model_dir = export_tiny(detector, str(tmp_path), True,
                            ExportVerdict('detector', 0.5, tiny_evidence, heat_maps=True))
    assert {'evidence.npz', 'evidence_bank.npy'} <= set(os.listdir(model_dir))
    assert all(os.path.isfile(f) for f in paddle_model_files(model_dir, 'evidence'))
    exported = ExportedDetector(model_dir)
    assert exported.heat_map == 'fused' and exported.verdict['source'] == 'detector'
    assert all(j['maps'] is None and j['classifier_scores'] is None
               for j in exported.judge(images[0][:2]))
    document = run_deploy(model_dir, images[1], str(tmp_path / 'out'), heatmaps=True)
    verdicts, _ = _expected_verdicts(eager['detector'], 0.5)
    by_file = {os.path.realpath(r['file']): r for r in document['images']}
    assert [by_file[os.path.realpath(p)]['verdict'] for p in images[0]] == verdicts
    assert all('source_scores' not in r and os.path.isfile(r['heatmap'])
               for r in document['images'])


def test_the_pipelines_export_option(tiny_evidence, tmp_path):
    """``export.heat_maps`` reaches the export's verdict, with the stage-1 model even when
    the verdict is the detector's."""
    from ppdet_wsd.pipeline.stages import export_verdict
    os.makedirs(tmp_path / 'evaluation')
    tiny_evidence.save(str(tmp_path / 'classifier' / 'evidence'))
    for source in ('detector', 'fusion'):
        (tmp_path / 'evaluation' / 'metrics.json').write_text(json.dumps(
            {'verdict': {'source': source, 'threshold': 0.4}}))
        for heat_maps in (False, True):
            task = {'output_dir': str(tmp_path),
                    'spec': {'export': {'speed_images': 1, 'heat_maps': heat_maps}}}
            verdict = export_verdict(task)
            assert (verdict.source, verdict.heat_maps) == (source, heat_maps)
            assert (verdict.evidence is not None) == (heat_maps or source == 'fusion')


def test_a_broken_heat_map_section_is_a_clear_error(heat_export, tmp_path):
    import shutil
    model_dir = str(tmp_path / 'model')
    shutil.copytree(heat_export, model_dir)
    _write_cfg(model_dir, lambda c: c['verdict']['evidence']['heat_map'].update(kind='cam'))
    with pytest.raises(ModelFolderError, match='heat_map.kind must be one of'):
        ExportedDetector(model_dir)
    _write_cfg(model_dir, lambda c: c['verdict']['evidence']['heat_map'].update(kind='fused'))
    os.remove(os.path.join(model_dir, 'evidence_bank.npy'))
    with pytest.raises(ModelFolderError, match='evidence_bank.npy: not found'):
        ExportedDetector(model_dir)
    np.save(os.path.join(model_dir, 'evidence_bank.npy'), np.zeros((3, 7), np.float16))
    with pytest.raises(ModelFolderError, match=r'expected \[patches, 152\]'):
        ExportedDetector(model_dir)


@pytest.fixture(scope='module')
def lite_detector():
    """A detector on the frozen ImageNet EfficientNet-Lite0, as the pipeline trains it
    (tiny FPN and head), so its backbone is the stage-1 one."""
    from tiny_models import lite_backbone
    model = tiny_detector(backbone=lite_backbone())
    model.eval()
    return model


@pytest.fixture(scope='module')
def shared_export(lite_detector, tiny_evidence, tmp_path_factory):
    return export_tiny(lite_detector, str(tmp_path_factory.mktemp('shared')), True,
                       ExportVerdict('fusion', VERDICT_THRESHOLD, tiny_evidence), LITE_CANVAS)


def test_a_detector_on_the_stage1_backbone_exports_it_once(shared_export, lite_detector,
                                                           tiny_evidence, images, tmp_path):
    with open(os.path.join(shared_export, 'infer_cfg.yml'), encoding='utf-8') as f:
        cfg = yaml.safe_load(f)
    assert cfg['backbone'] == {'graph': 'evidence', 'inputs': ['stride8', 'stride16', 'stage6']}
    assert cfg['verdict']['evidence']['outputs'] == ['stride8', 'stride16', 'stage6', 'head']
    exported = ExportedDetector(shared_export)
    assert exported.backend.size_mb < 0.5, 'model.* holds the FPN and head only'
    assert 12 < exported.evidence.backend.size_mb < 16, 'evidence.* holds the backbone once'
    assert exported.size_mb == pytest.approx(exported.backend.size_mb
                                             + exported.evidence.backend.size_mb)
    paths = images[0]
    assert_same_detections(exported.predict(paths),
                           eager_detections(lite_detector, paths, canvas=LITE_CANVAS),
                           LITE_BOX_TOLERANCE)
    apart = export_tiny(lite_detector, str(tmp_path), True, None, LITE_CANVAS)  # two backbones
    assert_same_detections(exported.predict(paths), ExportedDetector(apart).predict(paths),
                           1e-4)
    judged = exported.judge(paths)
    np.testing.assert_allclose(np.stack([j['classifier_scores'] for j in judged]),
                               eager_evidence_scores(tiny_evidence, paths),
                               atol=SCORE_TOLERANCE, rtol=0)


def test_a_backbone_trained_further_is_exported_apart(lite_detector, tiny_evidence, tmp_path):
    import copy as copy_module
    changed = copy_module.deepcopy(lite_detector)
    weight = changed.backbone.stem.conv.weight
    weight.set_value(weight.numpy() * 1.001)  # e.g. unfrozen and fine-tuned on a GPU
    folder = export_tiny(changed, str(tmp_path), True,
                         ExportVerdict('fusion', VERDICT_THRESHOLD, tiny_evidence), LITE_CANVAS)
    with open(os.path.join(folder, 'infer_cfg.yml'), encoding='utf-8') as f:
        cfg = yaml.safe_load(f)
    assert 'backbone' not in cfg
    assert cfg['verdict']['evidence']['outputs'] == ['stride8', 'stride16', 'head']
    assert ExportedDetector(folder).backend.size_mb > 11, 'the detector has its own backbone'


@pytest.mark.skipif(ONNX_REASON is not None, reason=str(ONNX_REASON))
def test_onnx_and_int8_of_a_shared_backbone(shared_export, lite_detector, images, tmp_path):
    """``model.onnx`` is the head graph fed by ``evidence.onnx``; int8 quantises the head
    (calibrated on the backbone's maps) and leaves the shared backbone in float32."""
    import shutil
    model_dir = str(tmp_path / 'shared')
    shutil.copytree(shared_export, model_dir)
    export_onnx(model_dir)
    quantize_int8(model_dir, images[0][:4])
    paths = images[0]
    assert_same_detections(ExportedDetector(model_dir, backend='onnx').predict(paths),
                           eager_detections(lite_detector, paths, canvas=LITE_CANVAS),
                           LITE_BOX_TOLERANCE)
    int8 = ExportedDetector(model_dir, backend='onnx', int8=True).predict(paths)
    assert len(int8) == len(paths) and all(d.shape[1] == 6 for d, _ in int8)
