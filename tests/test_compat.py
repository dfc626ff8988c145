"""Each host fix of ppdet_wsd.compat, shown to be needed: the test fails without it."""
import numpy as np
import paddle
import pytest
from PIL import Image, ImageDraw
from ppdet.modeling import ops
from ppdet.utils import stats
from ppdet.utils.visualizer import draw_bbox

from ppdet_wsd import compat


def _one_box_result():
    return [{'image_id': 0, 'category_id': 1, 'bbox': [4.0, 6.0, 10.0, 8.0], 'score': 0.9}]


def test_ppdet_box_drawing_works_on_this_pillow():
    image = Image.new('RGB', (40, 40))
    drawn = draw_bbox(image, 0, {1: 'crack'}, _one_box_result(), threshold=0.5)
    assert np.asarray(drawn).any()


def test_box_drawing_fails_without_the_pillow_fix(monkeypatch):
    if compat._textsize is not getattr(ImageDraw.ImageDraw, 'textsize', None):
        pytest.skip('this Pillow still has its own textsize (< 10)')
    monkeypatch.delattr(ImageDraw.ImageDraw, 'textsize')
    with pytest.raises(AttributeError, match='textsize'):
        draw_bbox(Image.new('RGB', (40, 40)), 0, {1: 'crack'}, _one_box_result(), 0.5)


def _mixed_shape_losses():
    """What RetinaHead returns for a batch without positives: a [1] loss beside 0-D ones."""
    return [{'loss': paddle.to_tensor(1.0), 'loss_reg': paddle.zeros([1])},
            {'loss': paddle.to_tensor(0.5), 'loss_reg': paddle.to_tensor(0.25)}]


def test_training_stats_accept_mixed_loss_shapes():
    meter = stats.TrainingStats(window_size=5)
    for losses in _mixed_shape_losses():
        meter.update(losses)
    assert meter.get()['loss_reg'] == format(0.125, '.6f')


def test_training_stats_fail_without_the_fix(monkeypatch):
    def original_update(self, values):  # ppdet 2.6.0's code path: raw arrays in the deque
        if self.meters is None:
            self.meters = {k: stats.SmoothedValue(self.window_size) for k in values}
        for key, meter in self.meters.items():
            meter.update(values[key].numpy())
    monkeypatch.setattr(stats.TrainingStats, 'update', original_update)
    meter = stats.TrainingStats(window_size=5)
    for losses in _mixed_shape_losses():
        meter.update(losses)
    with pytest.raises(ValueError):
        meter.get()


def _save_static_nms(path):
    """Trace ppdet's multiclass NMS into a static program and save it."""
    from paddle.static import InputSpec

    class NMS(paddle.nn.Layer):
        def forward(self, boxes, scores):
            return ops.multiclass_nms(boxes, scores, score_threshold=0.05, nms_top_k=100,
                                      keep_top_k=10, nms_threshold=0.5)[0]

    static = paddle.jit.to_static(NMS(), input_spec=[InputSpec([1, 8, 4], 'float32'),
                                                     InputSpec([1, 2, 8], 'float32')],
                                  full_graph=True)
    paddle.jit.save(static, str(path))


def test_multiclass_nms_exports_with_the_fix(tmp_path):
    _save_static_nms(tmp_path / 'nms')
    assert any(p.name.startswith('nms.') for p in tmp_path.iterdir())


def test_multiclass_nms_export_fails_without_the_fix(tmp_path, monkeypatch):
    if not (hasattr(paddle.framework, 'use_pir_api') and paddle.framework.use_pir_api()):
        pytest.skip('this paddle exports without PIR (2.6): ppdet\'s own NMS works there')
    original = ops.multiclass_nms.__closure__[0].cell_contents
    monkeypatch.setattr(ops, 'multiclass_nms', original)
    with pytest.raises(TypeError, match='multiclass_nms3'):
        _save_static_nms(tmp_path / 'nms')
