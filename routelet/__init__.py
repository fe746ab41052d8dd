"""routelet: a tiny on-device intent router for spoken voice-assistant commands.

Importing the package loads no model and imports no torch; see ``routelet.runtime``.
"""

from routelet.intents import LABELS, Intent

__version__ = "0.1.0"

__all__ = ["LABELS", "Intent", "__version__"]
