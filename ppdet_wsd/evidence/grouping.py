"""The coarser map that joins the fragments of one defect.

A defect larger than a few cells (a frayed edge, a long break) often lights the stride-8
map as a row of separate spots, each of which would become a box of its own. The same
evidence read from descriptors averaged over ``cells`` x ``cells`` neighbouring cells
(a wider look at the surface) rises over the whole defect as one region; the fine
regions that such a coarse region joins become one box
(:func:`ppdet_wsd.pseudo.regions.group_fragments`). A small defect stays one fine region
and keeps its tight box, and a coarse region never makes a box by itself, so images
without fine evidence above the level still get none.

The coarse map is the distance of the averaged descriptors to a bank of averaged good
patches, cut at a level set on the same good val images as the fine map, under the key
:func:`group_key` of ``*``. Only normality-based maps are grouped. The patch classifier's
probability, read from averaged descriptors, stays high over the whole surface of an
image of its class (on a line without good images its negatives are the other classes'
images, so it learns their surfaces apart, not only their defects): its coarse region
spans separate defects and joined them into one box covering most of the image
(measured in docs/pseudo_boxes.md, "Grouping fragments").
"""
import numpy as np
from scipy import ndimage

GROUP_PREFIX = 'grouping/'  # levels keys of the coarse map: 'grouping/<fine key>'


def group_key(key):
    """The levels key of the coarse map that goes with the fine map's ``key``."""
    return GROUP_PREFIX + key


def coarse_descriptors(patches, cells):
    """Each cell's descriptor averaged with its ``cells`` x ``cells`` neighbourhood
    (reflected at the border): float ``[rows, cols, D]`` -> float32 ``[rows, cols, D]``."""
    return ndimage.uniform_filter(np.asarray(patches, np.float32), size=(cells, cells, 1),
                                  mode='reflect')
