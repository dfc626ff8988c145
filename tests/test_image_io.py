import os

import numpy as np
import pytest
from conftest import write_image

from ppdet_wsd_runtime.image_io import ImageReadError, read_image_rgb


def test_grey_becomes_three_equal_channels(tmp_path):
    path = write_image(str(tmp_path / 'g.png'), np.arange(64, dtype=np.uint8).reshape(8, 8))
    image = read_image_rgb(path)
    assert image.shape == (8, 8, 3) and image.dtype == np.uint8
    assert (image[..., 0] == image[..., 2]).all() and image[1, 0, 0] == 8


def test_rgba_drops_alpha_and_swaps_to_rgb(tmp_path):
    bgra = np.zeros((4, 4, 4), dtype=np.uint8)
    bgra[..., 0] = 200  # blue in OpenCV order
    bgra[..., 3] = 10   # nearly transparent: alpha is ignored, not blended
    image = read_image_rgb(write_image(str(tmp_path / 'a.png'), bgra))
    assert image.shape == (4, 4, 3)
    assert (image[..., 2] == 200).all() and (image[..., 0] == 0).all()


def test_sixteen_bit_is_scaled_by_dtype_range(tmp_path):
    raw = np.array([[0, 257, 65535, 32896]], dtype=np.uint16)
    image = read_image_rgb(write_image(str(tmp_path / 'd.png'), raw))
    assert image[0, :, 0].tolist() == [0, 1, 255, 128]


def test_corrupt_file_names_the_file(tmp_path):
    path = tmp_path / 'broken.jpg'
    path.write_bytes(b'\xff\xd8 this is not a jpeg')
    with pytest.raises(ImageReadError, match='broken.jpg'):
        read_image_rgb(str(path))


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(ImageReadError, match='not found'):
        read_image_rgb(str(tmp_path / 'nope.png'))
    empty = tmp_path / 'empty.png'
    empty.write_bytes(b'')
    with pytest.raises(ImageReadError, match=os.path.basename(str(empty))):
        read_image_rgb(str(empty))
