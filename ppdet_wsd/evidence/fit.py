"""Fit an :class:`~ppdet_wsd.evidence.model.EvidenceModel` from image labels.

Training images teach the image probe, the patch classifier and (their good images) the
normality bank; validation images that do not show a class set that class's levels.
No box and no mask is read.
"""
import logging

import numpy as np

from ppdet_wsd_runtime.evidence import standardise_patches
from ppdet_wsd_runtime.evidence_maps import position_scaled

from .calibration import fit_levels
from .grouping import coarse_descriptors, group_key
from .image_probe import ImageProbe
from .model import ANY_CLASS, EvidenceModel
from .normality import NormalityBank
from .patch_mil import PatchMIL

logger = logging.getLogger(__name__)
STANDARDISE_SAMPLE = 7  # every 7th patch of the training images sets mean and std


def _flat(features):
    return features.patches.reshape(-1, features.patches.shape[-1])


def fit_evidence(train, val, classes, settings, geometry):
    """Fit the model.

    Args:
        train (list[tuple[ImageFeatures, np.ndarray]]): training images' features and
            multi-hot labels ``[C]`` (all zero = good).
        val (list[tuple[ImageFeatures, np.ndarray]]): validation images, the same way.
        classes (list[str]): defect classes.
        settings (PatchEvidence): the settings.
        geometry (dict): the input geometry (stored with the model).
    Returns:
        EvidenceModel: fitted and calibrated; ``heat_map`` is ``mil`` when the settings
        asked for a map that needs good images and the training split has none.
    """
    labels = np.stack([y for _, y in train]).astype(np.float32)
    sample = np.concatenate([_flat(f)[::STANDARDISE_SAMPLE] for f, _ in train]).astype(np.float32)
    mean, std = sample.mean(axis=0), sample.std(axis=0) + 1e-3
    del sample
    bags = [standardise_patches(_flat(f), mean, std) for f, _ in train]
    probe = ImageProbe(settings.probe_regularisation).fit(
        np.stack([f.pooled for f, _ in train]), labels)
    logger.info('image probe fitted on %d images', len(train))
    mil = PatchMIL(top_fraction=settings.top_fraction, epochs=settings.mil_epochs,
                   learning_rate=settings.mil_learning_rate, seed=settings.seed).fit(bags, labels)
    logger.info('patch classifier fitted (%d epochs)', settings.mil_epochs)
    good = [bag.reshape(f.patches.shape) for bag, (f, y) in zip(bags, train) if not y.any()]
    heat_map, bank, group_bank = settings.heat_map, None, None
    if heat_map in ('fused', 'normality'):
        if good:
            bank = _bank(settings).fit(good)
            logger.info('normality bank: %d patches of %d good images', len(bank.bank), len(good))
            if settings.group_cells > 1:
                group_bank = _bank(settings).fit(
                    [coarse_descriptors(g, settings.group_cells) for g in good])
        else:
            logger.warning('no good training image: heat map "%s" needs them, using "mil"',
                           heat_map)
            heat_map = 'mil'
    del bags, good
    model = EvidenceModel(classes, heat_map, vars(settings), geometry, mean, std, probe, mil, bank,
                          group_bank=group_bank)
    negatives = negative_maps(model, val)
    for key, scaled in ((ANY_CLASS, bank), (group_key(ANY_CLASS), group_bank)):
        if scaled is not None:  # its maps are unscaled distances until the scale is fitted
            raw = negatives[key]
            fit_positions(scaled, raw)
            negatives[key] = [position_scaled(m, scaled.ring_scale) for m in raw]
    model.levels = calibrate(model, val, negatives)
    return model


def _bank(settings):
    return NormalityBank(settings.bank_patches, settings.seed, settings.bank_edge_share)


def fit_positions(bank, good_val_distances):
    """Set the bank's position scale from the good validation images' unscaled
    distance maps (float ``[rows, cols]`` each; a mean over every cell of a ring, so one
    image is enough); without any it stays 1 (edge cells then rank as they are, which
    the log says)."""
    if not good_val_distances:
        logger.warning('no good val image: the normality map is not scaled by distance '
                       'from the image edge')
        return
    bank.fit_positions(good_val_distances)
    logger.info('normality scale by distance from the edge (rows: from the top or '
                'bottom, columns: from the left or right): %s',
                ' / '.join(' '.join(f'{v:.2f}' for v in row) for row in bank.ring_scale))


def negative_maps(model, val):
    """The maps the levels are set on, per levels key: for a normality-based map
    (``fused``, ``normality``) one key, ``*``, with the good val images' normality maps;
    for a ``mil`` model one key per class, with its maps on the val images without the
    class (good images and the other classes). A normality-based model that groups
    fragments adds the coarse maps of the same images under
    :func:`~ppdet_wsd.evidence.grouping.group_key` of ``*``.

    Args:
        model (EvidenceModel): fitted.
        val (list[tuple[ImageFeatures, np.ndarray]]): validation images and labels.
    Returns:
        dict[str, list[np.ndarray]]: float ``[rows, cols]`` maps per key.
    """
    grouping = model.group_cells and model.group_bank is not None
    if model.heat_map != 'mil':
        out = {key: [] for key in [ANY_CLASS] + ([group_key(ANY_CLASS)] if grouping else [])}
        for f, y in val:  # one image's descriptors at a time
            if not y.any():
                x = model.standardise(f.patches)
                out[ANY_CLASS].append(model.bank.distances(x))
                if grouping:
                    out[group_key(ANY_CLASS)].append(model.coarse_map(x))
        return out
    out = {key: [] for key in model.classes}
    for f, y in val:
        fine = model.maps(f)
        for k, name in enumerate(model.classes):
            if y[k] < 0.5:
                out[name].append(fine[k])
    return out


def calibrate(model, val, negatives=None):
    """The levels of the model's maps (:func:`fit_levels` at the model's
    ``level_quantile``) from the :func:`negative_maps` of ``val`` (or ``negatives``, when
    already computed)."""
    negatives = negative_maps(model, val) if negatives is None else negatives
    levels = {key: fit_levels(maps, model.settings['level_quantile'])
              for key, maps in negatives.items()}
    for key, value in levels.items():
        if value.level is None:
            logger.warning('%s: %d negative val images (< 5): boxes fall back to each '
                           'image\'s strongest region',
                           'the normality map' if key == ANY_CLASS else f'class {key}',
                           value.negatives)
    return levels
