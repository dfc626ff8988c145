"""Reader operators that ppdet's ``sample_transforms`` can name."""
import numpy as np
from ppdet.data.transform.operators import BaseOperator

from ..registry import register_transform
from .image_io import read_image_rgb


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
