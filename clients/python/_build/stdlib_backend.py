"""A PEP 517 build backend in the standard library only, so `pip install clients/python` needs neither
network nor setuptools/wheel: the wheel is a zip of `capillary_client/` plus the dist-info files
(METADATA, WHEEL, RECORD with sha256 hashes) that the wheel format (PEP 427) requires."""

import base64
import hashlib
import os
import zipfile

NAME = "capillary_client"
DIST = "capillary_client"
VERSION = "0.1.0"
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

METADATA = f"""Metadata-Version: 2.1
Name: capillary-client
Version: {VERSION}
Summary: Python client (sync and asyncio) for the capillaryd JSON-RPC daemon: staging, graphs, streamed explanations, training jobs.
Requires-Python: >=3.8
"""

WHEEL = """Wheel-Version: 1.0
Generator: capillary stdlib_backend
Root-Is-Purelib: true
Tag: py3-none-any
"""


def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def _write_wheel(wheel_directory, files):
    """files: list of (arcname, bytes). Returns the wheel's file name."""
    dist_info = f"{DIST}-{VERSION}.dist-info"
    files = list(files) + [(f"{dist_info}/METADATA", METADATA.encode()), (f"{dist_info}/WHEEL", WHEEL.encode())]
    record = [_record_line(a, d) for a, d in files] + [f"{dist_info}/RECORD,,"]
    files.append((f"{dist_info}/RECORD", ("\n".join(record) + "\n").encode()))
    name = f"{DIST}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w", zipfile.ZIP_DEFLATED) as zf:
        for arcname, data in files:
            zf.writestr(arcname, data)
    return name


def _package_files():
    root = os.path.join(HERE, NAME)
    for entry in sorted(os.listdir(root)):
        if entry.endswith(".py"):
            with open(os.path.join(root, entry), "rb") as f:
                yield f"{NAME}/{entry}", f.read()


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    """The installable wheel of capillary_client."""
    return _write_wheel(wheel_directory, _package_files())


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    """`pip install -e`: a wheel holding only a .pth file that puts clients/python on sys.path."""
    return _write_wheel(wheel_directory, [(f"{DIST}.pth", (HERE + "\n").encode())])
