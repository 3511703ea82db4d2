"""PET methods, one module each, behind a registry (`peftir.methods.registry`).

Importing this package registers every built-in method.
"""

from peftir.methods import adapter, bitfit, full, iaa, lora, mam, prefix  # noqa: F401  (registration)
from peftir.methods.registry import REGISTRY, apply_method, get_method, method_names  # noqa: F401
