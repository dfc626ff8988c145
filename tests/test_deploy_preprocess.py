"""The deploy runtime's preprocessing (numpy / OpenCV, no ppdet) makes the same arrays as
ppdet's Compose with the plugin's DecodeImage, for every op an export lists."""
import glob
import os

import numpy as np
import pytest
from ppdet.data.reader import Compose

from deploy_fixture import odd_images
from ppdet_wsd_runtime.image_io import ImageReadError
from ppdet_wsd_runtime.preprocess import Preprocess

NORMALIZE = {'NormalizeImage': {'mean': [0.498039, 0.498039, 0.498039],
                                'std': [0.501961, 0.501961, 0.501961], 'is_scale': True}}
PIPELINES = {
    'letterbox': [{'LetterboxResize': {'canvas': [48, 64]}}, NORMALIZE, {'Permute': {}}],
    'letterbox, other fill and interpolation': [
        {'LetterboxResize': {'canvas': [40, 40], 'interp': 2, 'fill': 0.0}}, NORMALIZE,
        {'Permute': {}}],
    'stretch': [{'Resize': {'target_size': [56, 40], 'keep_ratio': False, 'interp': 1}},
                NORMALIZE, {'Permute': {}}],
    'stretch to a square, no scaling': [
        {'Resize': {'target_size': 32, 'keep_ratio': False}},
        {'NormalizeImage': {'mean': [120.0, 110.0, 100.0], 'std': [50.0, 60.0, 70.0],
                            'is_scale': False}}, {'Permute': {}}],
}


def as_infer_cfg(ops):
    """The ``Preprocess`` list an export writes for these reader ops."""
    return [dict({'type': name}, **args) for op in ops for name, args in op.items()]


@pytest.fixture(scope='module')
def images(tiny_dataset, tmp_path_factory):
    folder = str(tmp_path_factory.mktemp('odd'))
    return sorted(glob.glob(os.path.join(tiny_dataset, 'images', '*')))[:3] + odd_images(folder)


@pytest.mark.parametrize('name', sorted(PIPELINES))
def test_the_runtime_preprocessing_equals_ppdet_compose(name, images):
    ops = PIPELINES[name]
    ppdet_reader = Compose([{'DecodeImage': {}}] + ops)
    runtime = Preprocess(as_infer_cfg(ops))
    for path in images:
        expected, mine = ppdet_reader({'im_file': path}), runtime(path)
        for key in ('image', 'im_shape', 'scale_factor'):
            assert mine[key].dtype == expected[key].dtype, (path, key)
            np.testing.assert_array_equal(mine[key], expected[key], err_msg=f'{path} {key}')
        assert (mine['h'], mine['w']) == (expected['h'], expected['w'])


def test_an_op_the_runtime_lacks_is_named():
    with pytest.raises(ValueError, match="op 'RandomFlip' is not implemented.*LetterboxResize"):
        Preprocess([{'type': 'RandomFlip', 'prob': 0.5}])
    with pytest.raises(ValueError, match='NormalizeImage.*scale'):
        Preprocess([{'type': 'NormalizeImage', 'mean': [0], 'std': [1], 'scale': 2}])
    with pytest.raises(ValueError, match='keep_ratio: true'):
        Preprocess([{'type': 'Resize', 'target_size': 64, 'keep_ratio': True}])


def test_an_unreadable_image_is_named(tmp_path):
    broken = tmp_path / 'broken.png'
    broken.write_bytes(b'not a png')
    with pytest.raises(ImageReadError, match='broken.png: not a readable image'):
        Preprocess([])(str(broken))
