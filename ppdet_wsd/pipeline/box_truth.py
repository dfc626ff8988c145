"""The dataset stage's look at the ground truth: which box evaluation mode the measuring
stages will use (:mod:`ppdet_wsd.metrics.box_mode`), decided before any training.
Reading ``annotations.json`` here only decides how to MEASURE; a file that cannot be used
never stops training: the mode is then ``none`` with the reason."""
from ..data.ground_truth import load_ground_truth
from ..data.labels import DatasetError
from ..metrics.box_mode import NO_BOXES, box_evaluation_mode


def dataset_box_mode(dataset_dir, classes, test_files):
    """The box evaluation mode of a dataset.

    Args:
        dataset_dir (str): the dataset root (``annotations.json`` optional).
        classes (list[str]): image-label classes.
        test_files (list[str]): the test split's files (relative to the image folder),
            each of which box metrics need an image entry for (a good one with no box).
    Returns:
        dict: ``mode``, ``reason``, ``box_classes`` (see
        :func:`~ppdet_wsd.metrics.box_mode.box_evaluation_mode`).
    """
    try:
        truth = load_ground_truth(dataset_dir)
    except DatasetError as e:
        return {'mode': NO_BOXES, 'box_classes': [],
                'reason': f'annotations.json cannot be used ({e})'}
    missing = [f for f in test_files if truth is not None and f not in truth]
    if missing:
        return {'mode': NO_BOXES, 'box_classes': [],
                'reason': f'annotations.json has no image entry for {len(missing)} of the '
                          f'{len(test_files)} test images (e.g. "{missing[0]}"); box metrics '
                          f'need every test image listed, good ones with no box'}
    return box_evaluation_mode(classes, truth)
