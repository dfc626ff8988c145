"""Stages 1-2 on patch evidence: frozen features of aspect-kept images (cached on disk),
an image-level probe, a patch classifier learnt from image labels (MIL), a memory bank of
good patches (normality), levels set on validation images, and boxes cut from the maps
(``docs/pseudo_boxes.md``)."""
from . import settings  # noqa: F401  (registers the PatchEvidence config section)
