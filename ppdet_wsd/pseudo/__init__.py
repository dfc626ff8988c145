"""Heat maps -> scored pseudo boxes."""
from . import generator, settings  # noqa: F401  (registers CAMPseudoBoxGenerator, PseudoBoxes, Refinement)
