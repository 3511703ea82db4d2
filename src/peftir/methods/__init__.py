"""PET methods, one module each, behind a registry (`peftir.methods.registry`).

Importing this package registers every built-in method.
"""

from peftir.methods import bitfit, full, lora  # noqa: F401  (registration side effects)
from peftir.methods.registry import REGISTRY, apply_method, get_method, method_names  # noqa: F401
