"""The preprocessing an exported model's ``infer_cfg.yml`` lists, in numpy and OpenCV.

It makes the same arrays as ppdet's ``Compose`` with the plugin's ``DecodeImage`` and the
listed ops (tested against it), without importing ppdet. A sample is a dict:

* ``image``: ``uint8`` RGB ``[H, W, 3]`` after decoding, float32 ``[H', W', 3]`` after a
  resize and normalising, float32 ``[3, H', W']`` after ``Permute``;
* ``im_shape``: float32 ``[2]``, the image's (height, width) inside the model input;
* ``scale_factor``: float32 ``[2]``, (y, x) scale from original to input pixels;
* ``h``, ``w``: the original image's size in pixels;
* ``rgb``: the decoded ``uint8`` RGB image, when :class:`Preprocess` keeps it (an export
  whose verdict also runs the stage-1 classifier, :mod:`.evidence`).
"""
import inspect

import cv2
import numpy as np

from .image_io import read_image_rgb
from .letterbox import letterbox


def decode(path):
    """Read ``path`` as a sample (``DecodeImage``: any grey / RGB / RGBA / 16-bit file as
    ``uint8`` RGB). Raises :class:`~ppdet_wsd_runtime.image_io.ImageReadError` naming the
    file when it cannot be read."""
    image = read_image_rgb(path)
    return {'image': image, 'h': image.shape[0], 'w': image.shape[1],
            'im_shape': np.array(image.shape[:2], dtype=np.float32),
            'scale_factor': np.ones(2, dtype=np.float32)}


def resize(sample, target_size, keep_ratio, interp=cv2.INTER_LINEAR):
    """ppdet's ``Resize`` with ``keep_ratio: false`` (:class:`Preprocess` refuses true):
    stretch to ``target_size`` ``[H, W]`` (``int`` for a square)."""
    if isinstance(target_size, int):
        target_size = [target_size, target_size]
    image = sample['image']
    scale_y, scale_x = target_size[0] / image.shape[0], target_size[1] / image.shape[1]
    sample['image'] = cv2.resize(image, None, None, fx=scale_x, fy=scale_y,
                                 interpolation=interp).astype(np.float32)
    sample['im_shape'] = np.asarray(target_size, dtype=np.float32)
    sample['scale_factor'] = np.asarray([sample['scale_factor'][0] * scale_y,
                                         sample['scale_factor'][1] * scale_x], np.float32)
    return sample


def letterbox_resize(sample, canvas, interp=1, fill=127.5):
    """The plugin's ``LetterboxResize``: fit into ``canvas`` ``[H, W]`` with the aspect
    ratio kept, pad bottom and right with ``fill``."""
    image, (new_h, new_w), scale = letterbox(sample['image'], [int(c) for c in canvas],
                                             interp, fill)
    sample['image'] = image
    sample['im_shape'] = np.array([new_h, new_w], dtype=np.float32)
    sample['scale_factor'] = np.array([scale, scale], dtype=np.float32)
    return sample


def normalize_image(sample, mean, std, is_scale=True, norm_type='mean_std'):
    """ppdet's ``NormalizeImage``: ``/ 255`` when ``is_scale``, then ``(x - mean) / std``
    per channel (``norm_type: mean_std``)."""
    image = sample['image'].astype(np.float32, copy=False)
    if is_scale:
        image *= 1.0 / 255.0
    if norm_type == 'mean_std':
        image -= np.array(mean)[np.newaxis, np.newaxis, :]
        image /= np.array(std)[np.newaxis, np.newaxis, :]
    sample['image'] = image
    return sample


def permute(sample):
    """ppdet's ``Permute``: ``[H, W, C]`` -> ``[C, H, W]``."""
    sample['image'] = sample['image'].transpose((2, 0, 1))
    return sample


OPS = {'Resize': resize, 'LetterboxResize': letterbox_resize,
       'NormalizeImage': normalize_image, 'Permute': permute}


class Preprocess:
    """Decode an image file and apply ``ops`` (``infer_cfg.yml``'s ``Preprocess``: a list
    of ``{'type': name, **arguments}``); ``keep_rgb`` keeps the decoded image as ``rgb``.

    Raises:
        ValueError: an op the runtime does not implement, or arguments it does not take
            (checked once, here).
    """

    def __init__(self, ops, keep_rgb=False):
        self.keep_rgb = keep_rgb
        self.steps = []
        for op in ops:
            args = {k: v for k, v in op.items() if k != 'type'}
            name = op.get('type')
            if name not in OPS:
                raise ValueError(f'preprocessing op {name!r} is not implemented by the deploy '
                                 f'runtime (it implements {", ".join(OPS)})')
            try:
                inspect.signature(OPS[name]).bind(None, **args)
            except TypeError as err:
                raise ValueError(f'preprocessing op {name}: {err}') from None
            if name == 'Resize' and args.get('keep_ratio'):
                raise ValueError('Resize with keep_ratio: true gives every image its own '
                                 'size; the runtime needs one input size (use LetterboxResize)')
            self.steps.append((OPS[name], args))

    def __call__(self, path):
        """The sample of the image file ``path`` (see the module docstring)."""
        sample = decode(path)
        if self.keep_rgb:
            sample['rgb'] = sample['image']
        for step, args in self.steps:
            sample = step(sample, **args)
        return sample
