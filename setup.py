"""Build hook for the optional compiled parts; all metadata lives in pyproject.toml.

The compiled layer is Cython (``.pyx``, turned into C at build time: Cython is a
build requirement in pyproject.toml, so ``pip install`` brings it), one module
beside each stage that uses it.  Every extension is ``optional``: without a
working C compiler the package still installs and runs on the stages' Python
and numpy code (same results, slower).
"""

from __future__ import annotations

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# Cython modules: built from .pyx; the generated C goes to build/ and is not shipped
# (each release would otherwise pin the C that one Cython version wrote for the
# Pythons it knew; building from the .pyx needs only Cython, which pip installs).
CYTHON_MODULES = {
    "dedup._text._segment": ["dedup/_text/_segment.pyx"],
    "dedup._sketch._kernels": ["dedup/_sketch/_kernels.pyx"],
    "dedup._verify._kernels": ["dedup/_verify/_kernels.pyx"],
    "dedup._index._kernels": ["dedup/_index/_kernels.pyx"],
}
CYTHON_DIRECTIVES = {"language_level": 3}  # bounds checks are switched off per module, where safe


class BuildExt(build_ext):
    """Turns the .pyx sources into C just before compiling them, so an sdist carries the .pyx."""

    def run(self) -> None:
        cython = [ext for ext in self.extensions if ext.name in CYTHON_MODULES]
        if cython:
            try:
                from Cython.Build import cythonize
            except ImportError:  # only without build isolation: pip installs Cython otherwise
                self.warn("Cython is not installed: building without the compiled modules")
                self.extensions = [ext for ext in self.extensions if ext.name not in CYTHON_MODULES]
            else:
                done = cythonize(cython, compiler_directives=CYTHON_DIRECTIVES, build_dir="build/cython")
                for ext, generated in zip(cython, done, strict=True):
                    ext.sources = generated.sources  # the extensions setuptools prepared, now from C
        super().run()


setup(
    ext_modules=[
        *(Extension(name, sources, optional=True) for name, sources in CYTHON_MODULES.items()),
    ],
    cmdclass={"build_ext": BuildExt},
)
