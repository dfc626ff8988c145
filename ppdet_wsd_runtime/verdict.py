"""The image verdict of an exported detector: which class scores decide good / defective,
and at which threshold (``infer_cfg.yml``'s ``verdict`` section).

The pipeline chooses the source on its val split (``ppdet_wsd.pipeline.verdict``):

* ``detector``: per class the larger of the MIL image probability and the best box score;
* ``classifier``: the stage-1 patch-evidence classifier (:mod:`.evidence`);
* ``fusion``: the mean of the two.

An image is ``defective`` when some class's score reaches the threshold. An export without
the section (``tools/export_model.py``, or a pipeline export made before the verdict was
exported) takes the detector at its ``operating_threshold``.

The section, as :func:`ppdet_wsd.deploy.verdict_export.write_verdict` writes it::

    verdict:
      source: fusion            # detector | classifier | fusion
      threshold: 0.371          # chosen on val by the pipeline
      classes: [...]            # the order of the class scores (the detector's)
      evidence:                 # classifier / fusion (detector: heat maps only):
                                # evidence.* and evidence.npz
        outputs: [stride8, stride16, head]
        geometry: {short_side: 320, max_long_side: 1024, border: 32}  # evidence_input.py
        top_fraction: 0.01
        context: 3
        patch_stride: 8
        head_stride: 32
        descriptor_dtype: float16
        heat_map: {...}         # optional: the stage-1 heat maps (evidence_maps.py)

A ``detector`` verdict carries ``evidence`` only for its heat maps (the export option
``heat_maps``); the stage-1 scores then do not enter the verdict.
"""
import numpy as np

from .model_dir import ModelFolderError

SOURCES = ('detector', 'classifier', 'fusion')
EVIDENCE_KEYS = ('outputs', 'geometry', 'top_fraction', 'context', 'patch_stride',
                 'head_stride', 'descriptor_dtype')


def read_verdict(infer_cfg, where='infer_cfg.yml'):
    """The verdict of an export: ``{'source', 'threshold', 'evidence' (the section's
    ``evidence`` or None; a ``detector`` verdict has one only with heat maps), 'exported'
    (False: no section, the detector at its operating threshold)}``.

    Raises:
        ModelFolderError: the section names an unknown source, has no threshold, names
            other classes than the model, or lacks the evidence settings its source needs.
    """
    section = infer_cfg.get('verdict')
    if section is None:
        return {'source': 'detector', 'threshold': float(infer_cfg['operating_threshold']),
                'evidence': None, 'exported': False}
    if not isinstance(section, dict) or section.get('source') not in SOURCES:
        raise ModelFolderError(f'{where}: verdict.source must be one of {", ".join(SOURCES)} '
                               f'(got {section!r})')
    if not isinstance(section.get('threshold'), (int, float)):
        raise ModelFolderError(f'{where}: verdict.threshold must be a number')
    classes = section.get('classes', infer_cfg['classes'])
    if list(classes) != list(infer_cfg['classes']):
        raise ModelFolderError(f'{where}: verdict.classes {classes} differ from the model\'s '
                               f'{infer_cfg["classes"]}')
    evidence = section.get('evidence')
    if section['source'] != 'detector' or evidence is not None:
        missing = [k for k in EVIDENCE_KEYS if k not in (evidence or {})]
        if missing:
            need = f'verdict.source {section["source"]}' if section['source'] != 'detector' \
                else 'verdict.evidence.heat_map'
            raise ModelFolderError(f'{where}: {need} needs verdict.evidence with '
                                   f'{", ".join(missing)}')
    return {'source': section['source'], 'threshold': float(section['threshold']),
            'evidence': evidence, 'exported': True}


def source_scores(source, detector, classifier=None):
    """float32 ``[N, C]`` class scores of the verdict ``source`` from the detector's and
    (``classifier`` / ``fusion``) the stage-1 classifier's ``[N, C]`` scores; ``fusion``
    is their mean, as the pipeline computes it."""
    detector = np.asarray(detector, np.float32)
    if source == 'detector':
        return detector
    classifier = np.asarray(classifier, np.float32)
    return classifier if source == 'classifier' else 0.5 * (detector + classifier)
