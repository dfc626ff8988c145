"""LetterboxResize: aspect kept inside a fixed canvas, boxes and scale follow."""
import numpy as np
import pytest

from ppdet_wsd.data.transforms import LetterboxResize


def test_a_tall_image_fills_the_canvas_height_and_is_padded_on_the_right():
    image = np.full((100, 50, 3), 200, np.uint8)
    sample = LetterboxResize([64, 64])({'image': image,
                                        'gt_bbox': np.array([[10, 20, 30, 60]], np.float32)})
    assert sample['image'].shape == (64, 64, 3) and sample['image'].dtype == np.float32
    assert sample['im_shape'].tolist() == [64, 32]
    assert sample['scale_factor'].tolist() == pytest.approx([0.64, 0.64])
    assert (sample['image'][:, :32] == 200).all() and (sample['image'][:, 32:] == 127.5).all()
    assert sample['gt_bbox'][0].tolist() == pytest.approx([6.4, 12.8, 19.2, 38.4])


def test_boxes_stay_inside_the_resized_image_and_good_images_pass():
    image = np.zeros((40, 80, 3), np.uint8)
    sample = LetterboxResize([32, 96], fill=0)(
        {'image': image, 'gt_bbox': np.array([[70, 30, 80, 40]], np.float32)})
    assert sample['im_shape'].tolist() == [32, 64], 'limited by the height: 0.8'
    assert sample['gt_bbox'][0].tolist() == pytest.approx([56, 24, 64, 32])
    empty = LetterboxResize([32, 96])({'image': image, 'gt_bbox': np.zeros((0, 4), np.float32)})
    assert empty['gt_bbox'].shape == (0, 4)
