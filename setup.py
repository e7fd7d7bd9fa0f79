"""Package layout: receivers/, processors/, exporters/ and extensions/ install as sub-packages of
``spanlens_pipeline`` (nothing generic lands at the top of site-packages)."""
from setuptools import find_packages, setup

MAPPED = ("receivers", "processors", "exporters", "extensions")

packages = find_packages(include=["spanlens_pipeline", "spanlens_pipeline.*"])
package_dir = {"spanlens_pipeline": "spanlens_pipeline"}
for top in MAPPED:
    packages += [f"spanlens_pipeline.{top}"] + [f"spanlens_pipeline.{top}.{p}" for p in find_packages(top)]
    package_dir[f"spanlens_pipeline.{top}"] = top

setup(packages=packages, package_dir=package_dir)
