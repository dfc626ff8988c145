"""Drawing helpers: heat maps, captions."""
