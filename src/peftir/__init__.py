"""peftir: parameter-efficient tuning for information retrieval, reproduced as a Snakemake pipeline.

Reproduces Ma et al., "Scattered or Connected? An Optimized Parameter-efficient Tuning Approach for
Information Retrieval", CIKM 2022 (arXiv 2208.09847).
"""

__version__ = "0.1.0"
