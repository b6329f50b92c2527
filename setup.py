"""symgraph: a symbolic graph compiler for Python, in the line of Theano."""
from setuptools import find_packages, setup

setup(
    name="symgraph",
    version="0.1.0",
    description="A symbolic graph compiler: optimizes, differentiates and runs array programs",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["symgraph", "symgraph.*", "symgraph_models",
                                    "symgraph_models.*"]),
    package_data={"symgraph": ["../csrc/*.c", "../csrc/*.h"]},
    include_package_data=True,
    install_requires=["numpy>=1.26", "scipy>=1.11", "cffi>=1.16"],
    extras_require={
        "test": ["pytest>=7", "pytest-xdist>=3", "hypothesis>=6"],
        "cuda": ["pycuda>=2024.1"],
        # the plot and thread pinning; the peers compared against are a separate extra
        # because they are large (torch==2.13.0 is the CPU wheel these machines carry)
        "bench": ["matplotlib>=3.7", "threadpoolctl>=3"],
        "peers": ["torch==2.13.0", "jax", "jaxlib", "pytensor"],
    },
    entry_points={"console_scripts": ["symgraph-cache=symgraph.link.c.cache:main"]},
)
