"""EfficientNet-Lite backbone: torch-free checkpoint reader, weight conversion, ImageNet sanity."""
import zlib  # noqa: F401  (before paddle)
import collections
import io
import math
import os
import pickle
import zipfile

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest
from skimage import data as skdata
from skimage.transform import resize

from ppdet_wsd.backbones import weights
from ppdet_wsd.backbones.efficientnet_lite import (IMAGENET_LITE_MEAN, IMAGENET_LITE_STD,
                                                   EfficientNetLite)
from ppdet_wsd.backbones.torch_pickle import TorchPickleError, load_torch_state_dict

CAT_CLASSES = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
ESPRESSO, CUP = 967, 968


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own weight cache; nothing is written to the home directory."""
    cache = tmp_path / 'cache'
    monkeypatch.setenv(weights.CACHE_ENV, str(cache))
    return cache


@pytest.fixture(scope='module')
def torch_state():
    return load_torch_state_dict(weights.wheel_checkpoint('lite0'))


@pytest.fixture(scope='module')
def imagenet_pdparams(tmp_path_factory):
    """The converted ImageNet weights, converted once for this module."""
    return str(weights.convert_checkpoint('lite0', tmp_path_factory.mktemp('w') / 'lite0.pdparams'))


@pytest.fixture(scope='module')
def classifier(imagenet_pdparams):
    model = EfficientNetLite(pretrained=imagenet_pdparams, with_classifier=True)
    model.eval()
    return model


def normalise(image):
    """uint8 RGB [H, W, 3] -> float32 [1, 3, H, W] with IMAGENET_LITE_MEAN/STD (ppdet's is_scale)."""
    x = (image.astype(np.float32) / 255.0 - np.float32(IMAGENET_LITE_MEAN)) / np.float32(IMAGENET_LITE_STD)
    return paddle.to_tensor(x.transpose(2, 0, 1)[None])


def center_square(image, size=224):
    """Centre square crop of an RGB uint8 image, resized to ``size`` x ``size`` (uint8)."""
    h, w = image.shape[:2]
    s = min(h, w)
    crop = image[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    return resize(crop, (size, size), preserve_range=True, anti_aliasing=True).round().astype(np.uint8)


def top5(model, image):
    with paddle.no_grad():
        logits = model.classify(normalise(center_square(image)))
    return list(np.argsort(-logits.numpy()[0])[:5])


# --- (a) torch pickle reader -------------------------------------------------------------------

def test_reader_reads_all_wheel_tensors(torch_state):
    assert len(torch_state) == 296
    assert torch_state['_conv_stem.weight'].shape == (32, 3, 3, 3)
    assert torch_state['_blocks.0._depthwise_conv.weight'].shape == (32, 1, 3, 3)
    assert torch_state['_blocks.15._project_conv.weight'].shape == (320, 1152, 1, 1)
    assert torch_state['_conv_head.weight'].shape == (1280, 320, 1, 1)
    assert torch_state['_fc.weight'].shape == (1000, 1280)
    assert torch_state['_bn0.num_batches_tracked'].shape == ()
    assert torch_state['_bn0.num_batches_tracked'].dtype == np.int64
    floats = [v for v in torch_state.values() if v.dtype == np.float32]
    assert len(floats) == 296 - 49  # 49 BatchNorm step counters
    assert sum(v.size for v in floats) == 4_694_024
    assert np.all(torch_state['_bn1.running_var'] > 0)


# Stand-ins pickled under their torch names (the module name is rewritten in the bytes).
class FloatStorage:
    pass


class LongStorage:
    pass


def _rebuild_tensor_v2(*args):
    raise AssertionError('only pickled, never called')


class _StorageMarker:
    def __init__(self, kind, key, numel):
        self.kind, self.key, self.numel = kind, key, numel


class _TensorMarker:
    def __init__(self, storage, offset, shape, stride):
        self.args = (storage, offset, shape, stride, False, collections.OrderedDict())

    def __reduce__(self):
        return _rebuild_tensor_v2, self.args


class _TorchLikePickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _StorageMarker):
            return ('storage', obj.kind, obj.key, 'cpu', obj.numel)
        return None


def write_zip_checkpoint(path, state, storages):
    """Write the torch >= 1.6 zip layout: archive/data.pkl + archive/data/<key> + byteorder."""
    buf = io.BytesIO()
    _TorchLikePickler(buf, protocol=2).dump(state)
    pkl = buf.getvalue()
    for name, module in (('FloatStorage', 'torch'), ('LongStorage', 'torch'),
                         ('_rebuild_tensor_v2', 'torch._utils')):
        pkl = pkl.replace(f'c{__name__}\n{name}\n'.encode(), f'c{module}\n{name}\n'.encode())
    assert __name__.encode() not in pkl
    with zipfile.ZipFile(path, 'w') as archive:
        archive.writestr('archive/data.pkl', pkl)
        archive.writestr('archive/byteorder', 'little')
        for key, array in storages.items():
            archive.writestr(f'archive/data/{key}', array.astype(array.dtype.newbyteorder('<')).tobytes())


def test_reader_zip_layout_views_and_strides(tmp_path):
    floats, longs = np.arange(12, dtype=np.float32), np.array([7], dtype=np.int64)
    fs, ls = _StorageMarker(FloatStorage, '0', 12), _StorageMarker(LongStorage, '1', 1)
    state = collections.OrderedDict([
        ('matrix', _TensorMarker(fs, 0, (3, 4), (4, 1))),
        ('transposed', _TensorMarker(fs, 0, (4, 3), (1, 4))),
        ('strided', _TensorMarker(fs, 2, (5,), (2,))),
        ('steps', _TensorMarker(ls, 0, (), ())),
    ])
    path = tmp_path / 'tiny.pt'
    write_zip_checkpoint(path, state, {'0': floats, '1': longs})
    loaded = load_torch_state_dict(path)
    assert list(loaded) == ['matrix', 'transposed', 'strided', 'steps']
    np.testing.assert_array_equal(loaded['matrix'], floats.reshape(3, 4))
    np.testing.assert_array_equal(loaded['transposed'], floats.reshape(3, 4).T)
    np.testing.assert_array_equal(loaded['strided'], floats[2::2])
    assert loaded['steps'].shape == () and loaded['steps'] == 7
    assert loaded['transposed'].flags.c_contiguous and loaded['transposed'].flags.writeable


# --- (f) clear errors --------------------------------------------------------------------------

def test_reader_rejects_non_pickle_file(tmp_path):
    path = tmp_path / 'notes.pth'
    path.write_text('this is not a checkpoint\n')
    with pytest.raises(TorchPickleError, match='notes.pth.*not a torch checkpoint'):
        load_torch_state_dict(path)


def test_reader_rejects_plain_pickle_and_truncation(tmp_path):
    plain = tmp_path / 'plain.pkl'
    plain.write_bytes(pickle.dumps({'a': 1}, protocol=2))
    with pytest.raises(TorchPickleError, match='plain.pkl.*wrong magic number'):
        load_torch_state_dict(plain)
    cut = tmp_path / 'cut.pth'
    cut.write_bytes(weights.wheel_checkpoint('lite0').read_bytes()[:100_000])
    with pytest.raises(TorchPickleError, match='cut.pth.*truncated'):
        load_torch_state_dict(cut)


def test_reader_refuses_arbitrary_globals(tmp_path):
    path = tmp_path / 'evil.pth'
    path.write_bytes(b'cos\nsystem\n(S"echo hacked"\ntR.')
    with pytest.raises(TorchPickleError, match='evil.pth.*unsupported object os.system'):
        load_torch_state_dict(path)


def test_conversion_names_offending_tensor(torch_state):
    repeats = [1, 2, 2, 3, 3, 4, 1]
    extra = dict(torch_state, **{'_blocks.16._bn0.weight': np.zeros(3, np.float32)})
    with pytest.raises(ValueError, match=r'_blocks\.16\._bn0\.weight'):
        weights.torch_to_paddle(extra, repeats)
    state = weights.torch_to_paddle(torch_state, repeats)
    state['stem.bn._mean'] = np.zeros(31, np.float32)
    expected = {k: v.shape for k, v in weights.torch_to_paddle(torch_state, repeats).items()}
    with pytest.raises(ValueError, match=r'stem\.bn\._mean: shape \(31,\)'):
        weights.check_state_dict(state, expected, 'test')


# --- (b) ImageNet sanity: conversion must be exact enough to classify photos --------------------

def test_classifier_recognises_cat(classifier):
    assert top5(classifier, skdata.chelsea())[0] in CAT_CLASSES


def test_classifier_recognises_espresso(classifier):
    assert {ESPRESSO, CUP} & set(top5(classifier, skdata.coffee()))


def test_fc_weight_is_transposed(classifier, torch_state):
    np.testing.assert_array_equal(classifier.fc.weight.numpy(), torch_state['_fc.weight'].T)


# --- (c) shapes --------------------------------------------------------------------------------

def test_out_shape_matches_outputs():
    model = EfficientNetLite(pretrained=None, return_idx=list(range(8)))
    model.eval()
    h, w = 70, 100  # not multiples of 32: TF SAME gives ceil(size / stride)
    with paddle.no_grad():
        feats = model({'image': paddle.rand([2, 3, h, w])})
    assert [s.stride for s in model.out_shape] == [2, 4, 8, 16, 16, 32, 32, 32]
    assert [s.channels for s in model.out_shape] == [16, 24, 40, 80, 112, 192, 320, 1280]
    for feat, spec in zip(feats, model.out_shape):
        assert feat.shape == [2, spec.channels, math.ceil(h / spec.stride), math.ceil(w / spec.stride)]


def test_default_returns_stride16_and_stride32():
    model = EfficientNetLite(pretrained=None)
    assert [(s.channels, s.stride) for s in model.out_shape] == [(112, 16), (320, 32)]
    assert model.head is None and model.fc is None and len(model.stages) == 7
    with paddle.no_grad():
        feats = model(paddle.rand([1, 3, 64, 64]))
    assert [f.shape for f in feats] == [[1, 112, 4, 4], [1, 320, 2, 2]]


def test_stride2_padding_is_tf_same():
    """Stride-2 convs pad only bottom/right on even inputs (TF SAME), not symmetrically."""
    conv = EfficientNetLite(pretrained=None, return_idx=[0]).stem.conv
    x = paddle.rand([1, 3, 32, 32])
    expected = F.conv2d(F.pad(x, [0, 1, 0, 1]), conv.weight, stride=2)
    np.testing.assert_allclose(conv(x).numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)


# --- (d) freezing ------------------------------------------------------------------------------

def bn_means(layer):
    return {n: p.numpy().copy() for n, p in layer.state_dict().items() if n.endswith('_mean')}


def test_frozen_stages_stop_gradient_and_keep_bn_statistics(imagenet_pdparams):
    model = EfficientNetLite(pretrained=imagenet_pdparams, return_idx=[2], frozen_stages=1,
                             norm_eval=False)
    frozen_prefixes = ('stem.', 'stages.0.')
    for name, param in model.named_parameters():
        if not name.endswith(('._mean', '._variance')):  # Paddle's BN statistics never get gradients
            assert param.stop_gradient == name.startswith(frozen_prefixes), name
    parent = paddle.nn.Sequential(model)
    parent.train()  # a detector's train() sets `training` on every sublayer directly
    before = bn_means(model)
    model(paddle.rand([2, 3, 64, 64]) * 2 - 1)
    after = bn_means(model)
    for name in before:
        unchanged = np.array_equal(before[name], after[name])
        assert unchanged == name.startswith(frozen_prefixes), name


def test_norm_eval_uses_running_statistics_in_train_mode(imagenet_pdparams):
    model = EfficientNetLite(pretrained=imagenet_pdparams, return_idx=[3], norm_eval=True)
    x = paddle.rand([2, 3, 64, 64]) * 2 - 1
    model.eval()
    with paddle.no_grad():
        eval_out = model(x)[0].numpy()
    before = bn_means(model)
    model.train()
    train_out = model(x)[0]
    assert not train_out.stop_gradient  # still trainable: norm_eval does not freeze weights
    np.testing.assert_allclose(train_out.numpy(), eval_out, rtol=1e-4, atol=1e-4)
    assert all(np.array_equal(before[n], v) for n, v in bn_means(model).items())


def test_large_frozen_stages_freezes_everything():
    model = EfficientNetLite(pretrained=None, frozen_stages=100, with_classifier=True)
    assert all(p.stop_gradient for p in model.parameters())


# --- (e) cache ---------------------------------------------------------------------------------

def test_imagenet_cache_is_converted_once(isolated_cache, monkeypatch, classifier):
    calls = []
    real_convert = weights.convert_checkpoint

    def counting_convert(*args, **kwargs):
        calls.append(args)
        return real_convert(*args, **kwargs)

    monkeypatch.setattr(weights, 'convert_checkpoint', counting_convert)
    model = EfficientNetLite(pretrained='imagenet', with_classifier=True)
    path = isolated_cache / 'efficientnet_lite0_imagenet.pdparams'
    assert calls == [('lite0', path)]
    assert sorted(os.listdir(isolated_cache)) == [path.name]  # no temp file left behind
    mtime = path.stat().st_mtime_ns
    assert weights.get_pretrained_path('lite0') == str(path)
    assert len(calls) == 1 and path.stat().st_mtime_ns == mtime
    for (name, ours), theirs in zip(model.state_dict().items(), classifier.state_dict().values()):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=name)


def test_failed_conversion_leaves_no_file(isolated_cache, monkeypatch):
    def crashing_save(state, path):
        with open(path, 'wb') as f:
            f.write(b'partial')
        raise OSError('disk full')

    monkeypatch.setattr(weights.paddle, 'save', crashing_save)
    with pytest.raises(OSError, match='disk full'):
        weights.get_pretrained_path('lite0')
    assert os.listdir(isolated_cache) == []


def test_load_pretrained_reports_missing_tensors(tmp_path):
    model = EfficientNetLite(pretrained=None, return_idx=[0])
    state = {k: v.numpy() for k, v in model.state_dict().items() if k != 'stages.0.0.project.bn._variance'}
    path = tmp_path / 'partial.pdparams'
    paddle.save(state, str(path))
    with pytest.raises(ValueError, match=r'partial\.pdparams.*missing stages\.0\.0\.project\.bn\._variance'):
        weights.load_pretrained(model, path)
