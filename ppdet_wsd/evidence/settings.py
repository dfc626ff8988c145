"""``PatchEvidence:``, the config section of stages 1-2 (heat maps and pseudo boxes from
patch evidence), with every default in one place. YAML only overrides;
:func:`check_patch_evidence` names a misspelt key or a value of the wrong type before
any work."""
from ..registry import register_module
from ..utils.settings import check_keys, setting_defaults

MAPS = ('fused', 'mil', 'normality')
# the settings that only decide how boxes are cut from a fitted model's maps
BOX_KEYS = ('extent', 'tighten_boxes', 'grow_lines', 'always_box_labelled',
            'max_boxes_per_class', 'num_review')


@register_module
class PatchEvidence:
    """Settings of the patch-evidence heat maps and their boxes.

    Args:
        short_side (int | str): input short side in pixels, or ``auto`` (the images'
            median short side within ``[min_short_side, max_short_side]``).
        min_short_side (int): small images are enlarged to this (stride-8 cells then
            cover a few original pixels).
        max_short_side (int): large images are shrunk to this (the CPU budget).
        max_long_side (int): cap of the long side (long parts keep their aspect ratio).
        heat_map (str): ``fused`` (the distance to good patches, each cell given to the
            class the patch classifier finds most likely there), ``mil`` (patch-class
            probability alone) or ``normality`` (distance to good patches alone). ``fused`` and ``normality`` need good training images; without
            them ``mil`` is used (and the report says so).
        top_fraction (float): share of an image's patches pooled into its MIL score.
        mil_epochs (int): passes of the patch classifier over the training images.
        mil_learning_rate (float): its Adam step.
        max_good_images (int): good training images stage 1 is fitted on (the image
            probe, the patch classifier, both banks), a seeded sample when the line has
            more, so the fit's memory stays bounded (about 3 MB per good image at
            magnetic tile's 384x320 input, 11 MB at the largest, 448x1024); 0: all.
        bank_patches (int): cap of the good-patch memory bank.
        bank_edge_share (float): share of the bank drawn from cells near the image edge
            (the edge is more varied than the inside; :mod:`ppdet_wsd.evidence.normality`).
        probe_regularisation (float): inverse L2 strength of the image-level probe.
        level_quantile (float): share of negative val images whose map stays below the
            box level (1 - false alarms per image).
        extent (float): a box reaches as far as the map stays above this fraction of
            the way from background to the region's peak.
        tighten_boxes (bool): shrink each box to the pixels inside it that differ from
            the surface around it (:mod:`ppdet_wsd_runtime.contrast`); boxes of defects
            without such contrast are kept.
        grow_lines (bool): after tightening, grow each box along a thin line of
            contrasting pixels that leaves it (a crack whose map lit one stretch;
            :func:`ppdet_wsd_runtime.contrast.grow_line_box`; docs/pseudo_boxes.md).
        group_cells (int): fine regions that one region of the map read from
            descriptors averaged over this many x this many cells joins become one box
            (the fragments of one defect, :mod:`ppdet_wsd.evidence.grouping`); 0 or 1:
            no grouping. Normality-based maps only: ``mil`` maps are not grouped.
        always_box_labelled (bool): a training image labelled with a class but with no
            region above the level still gets its strongest region, with the low score
            that says so.
        max_boxes_per_class (int): boxes per class and image.
        num_review (int): images drawn into the review gallery.
        seed (int): every random choice (MIL init and sampling, bank sample).
    """

    def __init__(self, short_side='auto', min_short_side=320, max_short_side=448,
                 max_long_side=1024, heat_map='fused', top_fraction=0.01, mil_epochs=80,
                 mil_learning_rate=0.02, max_good_images=1000, bank_patches=50000,
                 bank_edge_share=0.5,
                 probe_regularisation=0.1,
                 level_quantile=0.95, extent=0.5, tighten_boxes=True, grow_lines=True,
                 group_cells=5,
                 always_box_labelled=True,
                 max_boxes_per_class=10, num_review=48, seed=0):
        if heat_map not in MAPS:
            raise ValueError(f'PatchEvidence.heat_map must be one of {MAPS}, got "{heat_map}"')
        if not 0 < extent < 1:
            raise ValueError(f'PatchEvidence.extent must be in (0, 1), got {extent}')
        if max_good_images < 0:
            raise ValueError(f'PatchEvidence.max_good_images must be >= 0, got '
                             f'{max_good_images}')
        if group_cells < 0:
            raise ValueError(f'PatchEvidence.group_cells must be >= 0, got {group_cells}')
        if not 0 < level_quantile <= 1:
            raise ValueError(f'PatchEvidence.level_quantile must be in (0, 1], got '
                             f'{level_quantile}')
        self.short_side = short_side
        self.min_short_side = min_short_side
        self.max_short_side = max_short_side
        self.max_long_side = max_long_side
        self.heat_map = heat_map
        self.top_fraction = top_fraction
        self.mil_epochs = mil_epochs
        self.mil_learning_rate = mil_learning_rate
        self.max_good_images = max_good_images
        self.bank_patches = bank_patches
        self.bank_edge_share = bank_edge_share
        self.probe_regularisation = probe_regularisation
        self.level_quantile = level_quantile
        self.extent = extent
        self.tighten_boxes = tighten_boxes
        self.grow_lines = grow_lines
        self.group_cells = group_cells
        self.always_box_labelled = always_box_labelled
        self.max_boxes_per_class = max_boxes_per_class
        self.num_review = num_review
        self.seed = seed


def _accepts(default, value):
    """True when ``value`` has the type of the setting whose default is ``default``
    (a whole number where a float is expected is fine; a bool is never a number)."""
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(default))


def check_patch_evidence(values, where='PatchEvidence', keys=None):
    """Raise a one-line ``ValueError`` naming ``<where>.<key>`` for a key that is not a
    :class:`PatchEvidence` setting (or not among ``keys``), or a value of the wrong type
    (``short_side``: ``auto`` or pixels).

    Args:
        values (dict): the section as written (YAML or ``-o`` overrides).
        where (str): how the message names the section.
        keys (Iterable[str] | None): the settings allowed here (default: all).
    """
    check_keys(PatchEvidence, values, where, keys, note='' if keys is None else
               ' (the others are fixed by the classifier stage: set them in classifier.opts)')
    params = setting_defaults(PatchEvidence)
    for key, value in values.items():
        default = params[key]
        if key == 'short_side':
            ok = value == 'auto' or (isinstance(value, int) and not isinstance(value, bool))
        else:
            ok = _accepts(default, value)
        if not ok:
            expected = 'auto or pixels' if key == 'short_side' else type(default).__name__
            raise ValueError(f'{where}.{key}: expected {expected} (like the default '
                             f'{default!r}), got {value!r}')
