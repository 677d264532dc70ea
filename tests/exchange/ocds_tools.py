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
STANDARD_BASE = "https://standard.open-contracting.org/schema/1__1__5/"
# ocdsextensionregistry reads a GitHub-hosted extension as its repository's archive at the tag.
EXTENSION_ARCHIVE = "https://github.com/open-contracting-extensions/ocds_bid_extension/archive/v1.1.5.zip"


class VendoredFiles(BaseAdapter):
    """Answers the extension's and the standard's schema URLs from the vendored zips; anything else
    is refused (no network)."""

    def __init__(self):
        super().__init__()
        self.files = {}
        for path, base, sub in ((EXTENSION_ZIP, EXTENSION_BASE, ""), (STANDARD_ZIP, STANDARD_BASE, "schema/")):
            with zipfile.ZipFile(path) as zf:
                prefix = zf.namelist()[0] + sub
                self.files.update({base + n[len(prefix):]: zf.read(n) for n in zf.namelist()
                                   if n.startswith(prefix) and not n.endswith("/")})
        self.files[EXTENSION_ARCHIVE] = EXTENSION_ZIP.read_bytes()

    def send(self, request, **kwargs):
        response = requests.Response()
        response.request, response.url = request, request.url
        if request.url in self.files:
            response.status_code, response._content = 200, self.files[request.url]
        else:
            response.status_code, response._content = 404, b""
        response.reason = "OK" if response.status_code == 200 else "Not Found"
        response.encoding = "utf-8"
        return response

    def close(self):
        pass


class _Requests:
    """What jsonref calls as ``requests.get`` to resolve the record package schema's remote
    ``$ref``s (the versioned release schema)."""

    def __init__(self, session):
        self.session = session

    def get(self, url, **kwargs):
        return self.session.get(url, **kwargs)


def _offline() -> None:
    """The tooling's HTTP sessions (a caching one in ocdsextensionregistry, requests.get in
    jsonref) replaced by one that answers from the vendored files."""
    import jsonref
    from ocdsextensionregistry import extension_version, util

    adapter = VendoredFiles()
    session = requests.Session()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    util.session = extension_version.session = session
    jsonref.requests = _Requests(session)


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


