"""chokepoint: supply-chain chokepoint analytics for AI governance.

This package holds what is neither graph algorithm (``graph``), optimisation model
(``optimization``) nor orchestration (``pipelines``): input readers and validators,
scenario files, the warehouse, and the command-line interface.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
