"""Tiny exported models for the deploy tests: the seeded tiny detector / classifier of
``tiny_models`` exported on a letterbox canvas (the detector optionally with an image
verdict from a stage-1 evidence model fitted on the tiny dataset), and the eager model's
outputs to compare."""
import os

import numpy as np
import paddle
from ppdet.core.workspace import AttrDict
from ppdet.data.reader import Compose

from conftest import write_image
from ppdet_wsd_runtime.evidence_input import InputGeometry

from ppdet_wsd.deploy.export import export_model
from ppdet_wsd.engine.prediction.detect import detect_records
from ppdet_wsd.evidence.features import FeatureExtractor

CANVAS = [48, 64]   # H, W: not square, so the letterbox pads
CLASSES = ['crack', 'scratch', 'spot']
THRESHOLD = 0.42
LITE_CANVAS = [64, 96]  # a detector with a stride-32 level needs multiples of 32


def transforms(canvas=CANVAS):
    """The test-time reader of the tiny models: letterbox into ``canvas`` (H, W)."""
    return [{'DecodeImage': {}},
            {'LetterboxResize': {'canvas': canvas}},
            {'NormalizeImage': {'mean': [0.5, 0.5, 0.5], 'std': [0.5, 0.5, 0.5],
                                'is_scale': True}},
            {'Permute': {}}]


TRANSFORMS = transforms()


def tiny_cfg(name, canvas=CANVAS):
    """The config entries ``export_model`` reads, for the tiny models."""
    return AttrDict(architecture='RetinaNetMIL' if name == 'detector' else 'CAMClassifier',
                    filename=name, verdict_threshold=THRESHOLD,
                    TestReader={'inputs_def': {'image_shape': [3] + list(canvas)},
                                'sample_transforms': transforms(canvas)})


# stage 1 of the tiny tests: a small input (short side 96, long side capped at 160, so
# the odd images' inputs take several shapes) on the ImageNet EfficientNet-Lite0
EVIDENCE_GEOMETRY = InputGeometry(short_side=96, max_long_side=160)


def export_tiny(model, out_dir, detector, verdict=None, canvas=CANVAS):
    """Export a tiny model (a detector with ``verdict``, an ``ExportVerdict``, if given)
    on ``canvas``; returns its folder."""
    name = 'detector' if detector else 'classifier'
    return export_model(model, tiny_cfg(name, canvas), CLASSES, out_dir, detector=detector,
                        verdict=verdict)


def fit_tiny_evidence(dataset_dir, cache_dir):
    """The stage-1 evidence model of the tiny dataset (``EVIDENCE_GEOMETRY``, 8 MIL
    epochs), as the pipeline fits it."""
    from ppdet_wsd.evidence.fit import fit_evidence
    from ppdet_wsd.evidence.settings import PatchEvidence
    from ppdet_wsd.evidence.store import FeatureStore
    from ppdet_wsd.pipeline.evidence_stages import load_dataset, split_items
    store = FeatureStore(cache_dir, {'geometry': vars(EVIDENCE_GEOMETRY)},
                         lambda: FeatureExtractor(EVIDENCE_GEOMETRY))
    images, image_root, classes = load_dataset(dataset_dir)
    assert classes == CLASSES
    return fit_evidence(split_items(store, images, image_root, classes, 'train'),
                        split_items(store, images, image_root, classes, 'val'), classes,
                        PatchEvidence(mil_epochs=8), vars(EVIDENCE_GEOMETRY))


def eager_evidence_scores(model, paths):
    """``EvidenceModel.image_scores`` of image files, from features computed as the
    pipeline computes them: float32 ``[N, C]``."""
    from ppdet_wsd_runtime.image_io import read_image_rgb
    extractor = FeatureExtractor(InputGeometry(**model.geometry))
    return np.stack([model.image_scores(extractor(read_image_rgb(p))) for p in paths])


def eager_detections(model, paths, batch_size=2, canvas=CANVAS):
    """The eager detector on ``paths`` as the project's infer runs it (letterboxed into
    ``canvas``): per image ``(detections [m, 6] clipped, im_score [C])``."""
    records = [{'im_file': p} for p in paths]
    return [(det, score) for _, det, score in
            detect_records(model, Compose(transforms(canvas)), records, batch_size)]


def eager_classifier(model, paths):
    """The eager classifier on ``paths``: per image ``(scores [C], cam [C, h, w])``."""
    transforms = Compose(TRANSFORMS)
    image = np.stack([transforms({'im_file': p})['image'] for p in paths])
    with paddle.no_grad():
        out = model({'image': paddle.to_tensor(image)})
    return list(zip(out['scores'].numpy(), out['cam'].numpy()))


def odd_images(folder):
    """Images the runtime must read like ppdet's reader: other sizes and aspect ratios,
    grey, 16-bit, RGBA; returns their paths."""
    rng = np.random.RandomState(7)
    return [write_image(os.path.join(folder, 'wide.png'),
                        rng.randint(0, 255, (30, 90, 3)).astype(np.uint8)),
            write_image(os.path.join(folder, 'tall_grey.png'),
                        rng.randint(0, 255, (70, 33)).astype(np.uint8)),
            write_image(os.path.join(folder, 'deep16.png'),
                        rng.randint(0, 65535, (50, 41, 3)).astype(np.uint16)),
            write_image(os.path.join(folder, 'alpha.png'),
                        rng.randint(0, 255, (64, 64, 4)).astype(np.uint8))]


def assert_same_rows(det, det_e, box_tolerance=1e-4):
    """The same detections (class equal, score within 1e-5, box within ``box_tolerance``
    px) in any order: float noise may swap two boxes of nearly equal score."""
    assert len(det) == len(det_e) > 0
    unused = list(range(len(det)))
    for row in det_e:
        distance = [np.abs(det[i, 2:] - row[2:]).max() if det[i, 0] == row[0]
                    and abs(det[i, 1] - row[1]) <= 1e-5 else np.inf for i in unused]
        best = int(np.argmin(distance))
        assert distance[best] <= box_tolerance, (row, det)
        unused.pop(best)


def assert_same_detections(mine, eager, box_tolerance=1e-4):
    for (det, score), (det_e, score_e) in zip(mine, eager, strict=True):
        np.testing.assert_allclose(score, score_e, atol=1e-5)
        assert_same_rows(det, det_e, box_tolerance)
