"""The OCDS tooling from PyPI, offline: libcoveocds (the standard's own checker) and ocdsmerge,
given the vendored standard and bid extension (ocds/README.md)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import requests
from requests.adapters import BaseAdapter

from exchange.ocds import BID_EXTENSION

HERE = Path(__file__).resolve().parent / "ocds"
STANDARD_ZIP = HERE / "standard-1__1__5-schema.zip"
EXTENSION_ZIP = HERE / "ocds_bid_extension-v1.1.5.zip"
EXTENSION_BASE = BID_EXTENSION.rsplit("/", 1)[0] + "/"


class VendoredFiles(BaseAdapter):
    """Answers the extension's URLs from the vendored zip; anything else is refused (no network)."""

    def __init__(self):
        super().__init__()
        with zipfile.ZipFile(EXTENSION_ZIP) as zf:
            prefix = zf.namelist()[0]
            self.files = {n[len(prefix):]: zf.read(n) for n in zf.namelist() if not n.endswith("/")}

    def send(self, request, **kwargs):
        response = requests.Response()
        response.request, response.url = request, request.url
        name = request.url[len(EXTENSION_BASE):] if request.url.startswith(EXTENSION_BASE) else None
        if name in self.files:
            response.status_code, response._content = 200, self.files[name]
        else:
            response.status_code, response._content = 404, b""
        response.reason = "OK" if response.status_code == 200 else "Not Found"
        response.encoding = "utf-8"
        return response

    def close(self):
        pass


def _offline() -> None:
    from ocdsextensionregistry import util

    adapter = VendoredFiles()
    util.session.mount("https://", adapter)
    util.session.mount("http://", adapter)


def check(package: dict, tmp_path) -> dict:
    """libcoveocds' result for ``package`` (as parsed JSON)."""
    from libcoveocds.api import ocds_json_output
    from libcoveocds.config import LibCoveOCDSConfig

    _offline()
    config = LibCoveOCDSConfig()
    config.config["context"] = "api"
    config.config["standard_zip"] = f"file://{STANDARD_ZIP}"
    return ocds_json_output(str(tmp_path), json_data=package, lib_cove_ocds_config=config,
                            record_pkg="records" in package)


def merged(releases: list[dict]) -> dict:
    """ocdsmerge's compiled release of ``releases`` with the bid extension's schema."""
    import ocdsmerge
    from ocdsextensionregistry import ProfileBuilder

    _offline()
    builder = ProfileBuilder("1__1__5", [BID_EXTENSION], standard_base_url=f"file://{STANDARD_ZIP}")
    merger = ocdsmerge.Merger(schema=builder.patched_release_schema())
    return merger.create_compiled_release(releases)


def loads(text: str) -> dict:
    return json.loads(text)


