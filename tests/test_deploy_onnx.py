"""ONNX: the export converted with paddle2onnx and run by onnxruntime gives the eager
model's detections and maps; the int8 model is quantised and runs. paddle2onnx 2.x needs
paddle >= 3: on the paddle 2.6 line the conversion refuses with that reason."""
import glob
import os

import numpy as np
import pytest

from deploy_fixture import (assert_same_detections, eager_classifier, eager_detections,
                            export_tiny)
from ppdet_wsd.deploy.onnx_export import export_onnx, onnx_unavailable_reason
from ppdet_wsd.deploy.quantize import quantize_int8
from ppdet_wsd_runtime.predictor import ExportedClassifier, ExportedDetector
from ppdet_wsd_runtime.runner import run_deploy
from tiny_models import tiny_classifier, tiny_detector

UNAVAILABLE = onnx_unavailable_reason()
needs_onnx = pytest.mark.skipif(UNAVAILABLE is not None, reason=str(UNAVAILABLE))


@pytest.fixture(scope='module')
def images(tiny_dataset):
    return sorted(glob.glob(os.path.join(tiny_dataset, 'images', '*')))[1::3]


@pytest.fixture(scope='module')
def detector(tmp_path_factory, images):
    """The tiny detector, exported with model.onnx and model_int8.onnx (calibrated on
    six tiny-dataset images)."""
    model = tiny_detector()
    model.eval()
    model_dir = export_tiny(model, str(tmp_path_factory.mktemp('onnx')), detector=True)
    export_onnx(model_dir)
    quantize_int8(model_dir, images[:6])
    return model, model_dir


@needs_onnx
def test_onnxruntime_detections_equal_the_eager_model(detector, images):
    model, model_dir = detector
    assert_same_detections(ExportedDetector(model_dir, backend='onnx').predict(images),
                           eager_detections(model, images))


@needs_onnx
def test_the_runner_gives_the_same_results_with_either_backend(detector, images, tmp_path):
    _, model_dir = detector
    folder = os.path.dirname(images[0])
    paddle_run = run_deploy(model_dir, folder, str(tmp_path / 'p'), batch_size=4)
    onnx_run = run_deploy(model_dir, folder, str(tmp_path / 'o'), backend='onnx', batch_size=4)
    assert onnx_run['backend'] == 'onnx' and len(onnx_run['images']) == 30
    for a, b in zip(paddle_run['images'], onnx_run['images'], strict=True):
        assert a['verdict'] == b['verdict']
        assert a['scores'] == pytest.approx(b['scores'], abs=1e-5)


@needs_onnx
def test_the_int8_model_has_int8_weights_and_close_image_scores(detector, images):
    onnx = pytest.importorskip('onnx')
    _, model_dir = detector
    graph = onnx.load(os.path.join(model_dir, 'model_int8.onnx')).graph
    weights = [i for i in graph.initializer if i.data_type == onnx.TensorProto.INT8]
    convs = [n for n in graph.node if n.op_type == 'Conv']
    assert len(weights) >= len(convs) > 0, 'every convolution has int8 weights'
    fp32 = ExportedDetector(model_dir, backend='onnx').predict(images)
    int8 = ExportedDetector(model_dir, backend='onnx', int8=True).predict(images)
    for (_, score), (_, score8) in zip(fp32, int8, strict=True):
        np.testing.assert_allclose(score8, score, atol=0.02)
    with pytest.raises(ValueError, match='int8 runs with the onnx backend only'):
        ExportedDetector(model_dir, backend='paddle', int8=True)


@needs_onnx
def test_onnxruntime_maps_equal_the_eager_classifier(images, tmp_path):
    model = tiny_classifier(levels=2)
    model.eval()
    model_dir = export_tiny(model, str(tmp_path), detector=False)
    export_onnx(model_dir)
    for (scores, cam), (scores_e, cam_e) in zip(
            ExportedClassifier(model_dir, backend='onnx').predict(images[:5]),
            eager_classifier(model, images[:5]), strict=True):
        np.testing.assert_allclose(scores, scores_e, atol=1e-5)
        np.testing.assert_allclose(cam, cam_e, atol=1e-4)


@pytest.mark.skipif(UNAVAILABLE is None, reason='ONNX conversion works on this line')
def test_without_paddle3_the_conversion_says_why(tmp_path):
    with pytest.raises(RuntimeError, match='needs paddle >= 3|pip install'):
        export_onnx(str(tmp_path))
