"""Build hook for the optional compiled parts; all metadata lives in pyproject.toml.

``optional=True``: without a C compiler the package still installs and runs on
the pure-Python tokeniser and the numpy kernels (same results, slower).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("dedup._text._ctext", ["dedup/_text/_ctext.c"], optional=True, extra_compile_args=["-O2"]),
        Extension("dedup._ckernels", ["dedup/_ckernels.c"], optional=True, extra_compile_args=["-O3"]),
    ]
)
