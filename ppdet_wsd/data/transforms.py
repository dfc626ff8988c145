"""Reader operators that ppdet's ``sample_transforms`` can name."""
import numpy as np
from ppdet.data.transform.operators import BaseOperator

from ppdet_wsd_runtime.image_io import read_image_rgb
from ppdet_wsd_runtime.letterbox import letterbox

from ..registry import register_transform


@register_transform
class DecodeImage(BaseOperator):
    """Read ``sample['im_file']`` into ``sample['image']`` (``uint8`` RGB ``[H, W, 3]``).

    Unlike ppdet's ``Decode`` it accepts grey, RGBA and 16-bit files and fails with
    an error naming the file instead of passing undecoded bytes on. Sets ``h``,
    ``w``, ``im_shape`` (float32 ``[2]``) and ``scale_factor`` (float32 ``[2]``,
    ones); keeps ``im_file`` out of the batch.
    """

    def apply(self, sample, context=None):
        image = read_image_rgb(sample.pop('im_file'))
        sample['image'] = image
        sample['h'], sample['w'] = image.shape[:2]
        sample['im_shape'] = np.array(image.shape[:2], dtype=np.float32)
        sample['scale_factor'] = np.ones(2, dtype=np.float32)
        return sample


@register_transform
class LetterboxResize(BaseOperator):
    """Resize an image to fit a fixed canvas with its aspect ratio kept, then pad the
    bottom and right edges to the canvas (a batch of any image sizes stacks, and an
    exported model has one input shape).

    Sets ``image`` float32 ``[H, W, 3]`` (the canvas), ``im_shape`` float32 ``[2]`` (the
    resized image's height and width inside the canvas) and ``scale_factor`` float32
    ``[2]`` (the one scale, twice: boxes / scale_factor are original pixels); scales
    ``gt_bbox`` (xyxy) when present.

    Args:
        canvas (list[int]): ``[H, W]`` in pixels.
        interp (int): OpenCV interpolation (1: bilinear).
        fill (float): value of the padding, in image units (127.5: mid-grey, zero after
            the EfficientNet-Lite normalisation).
    """

    def __init__(self, canvas, interp=1, fill=127.5):
        super().__init__()
        self.canvas = [int(canvas[0]), int(canvas[1])]
        self.interp = interp
        self.fill = fill

    def apply(self, sample, context=None):
        out, (new_h, new_w), scale = letterbox(sample['image'], self.canvas, self.interp,
                                               self.fill)
        sample['image'] = out
        sample['im_shape'] = np.array([new_h, new_w], dtype=np.float32)
        sample['scale_factor'] = np.array([scale, scale], dtype=np.float32)
        if 'gt_bbox' in sample and len(sample['gt_bbox']):
            sample['gt_bbox'] = (np.asarray(sample['gt_bbox'], np.float32) * scale).clip(
                0, [new_w, new_h, new_w, new_h]).astype(np.float32)
        return sample
