"""Heat maps -> scored pseudo boxes."""
from . import generator  # noqa: F401  (registers CAMPseudoBoxGenerator)
