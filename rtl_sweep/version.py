"""The package's version, in a module of its own so that modules inside the package (the results
schema stamps it into every file) read it without importing the package root, which re-exports
the notebook API from the top layer (rtl_sweep/__init__.py).

    python -c "from rtl_sweep.version import __version__; print(__version__)"
"""

__version__ = "0.1.0"   # as pyproject.toml's [project] version
