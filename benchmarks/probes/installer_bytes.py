"""Bytes of the installers nothing at run time uses (pip, setuptools, wheel, uv) in a virtual environment.

usage: python installer_bytes.py VENV_GLOB        (the benchmark mounts this file into the image it measures)

Prints one number: the bytes of those distributions, their metadata and their scripts in site-packages and bin.
"""

import glob
import os
import sys

INSTALLERS = ("pip", "setuptools", "pkg_resources", "_distutils_hack", "distutils-precedence.pth", "wheel", "uv")


def is_installer(name: str) -> bool:
    return any(
        name == installer or name.startswith((f"{installer}-", f"{installer}3", f"{installer}."))
        for installer in INSTALLERS
    )


def size(path: str) -> int:
    if not os.path.isdir(path) or os.path.islink(path):
        return os.lstat(path).st_size
    return sum(os.lstat(os.path.join(folder, name)).st_size for folder, _, names in os.walk(path) for name in names)


def installer_bytes(venv: str) -> int:
    folders = [*glob.glob(os.path.join(venv, "lib", "python*", "site-packages")), os.path.join(venv, "bin")]
    return sum(
        size(os.path.join(folder, name))
        for folder in folders
        if os.path.isdir(folder)
        for name in os.listdir(folder)
        if is_installer(name)
    )


def main() -> None:
    venvs = glob.glob(sys.argv[1])
    if not venvs:
        sys.exit(f"no virtual environment at {sys.argv[1]}")
    print(sum(installer_bytes(venv) for venv in venvs))


if __name__ == "__main__":
    main()
