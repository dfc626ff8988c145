"""Batches of preprocessed images for the loops that run a model outside ppdet's Trainer."""
import copy

import numpy as np
import paddle


def image_batches(transforms, records, batch_size):
    """Transform records and stack their images, ``batch_size`` at a time.

    Args:
        transforms (callable): reader sample transforms (``ppdet.data.reader.Compose``),
            applied to a deep copy of each record (ppdet's ``Resize`` scales ``gt_bbox``
            in place; the records must keep their original-pixel boxes).
        records (list[dict]): records with at least ``im_file``.
        batch_size (int): images per batch (the last batch may be smaller).
    Yields:
        tuple: ``(records, samples, image)``: the batch's records, their transformed
        samples (with ``im_shape``, ``h``, ``w``), and float32 ``[B, 3, H, W]`` tensor.
    """
    for start in range(0, len(records), batch_size):
        batch = records[start:start + batch_size]
        samples = [transforms(copy.deepcopy(r)) for r in batch]
        yield batch, samples, paddle.to_tensor(np.stack([s['image'] for s in samples]))
