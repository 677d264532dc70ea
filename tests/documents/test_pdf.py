import subprocess

import pytest

from documents.pdf import render_pdf
from tests.conftest import need_service, need_tool


def pdf_text(data: bytes, tmp_path) -> str:
    path = tmp_path / "x.pdf"
    path.write_bytes(data)
    return subprocess.run([need_tool("pdftotext"), "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def pdf_fonts(data: bytes, tmp_path) -> str:
    path = tmp_path / "f.pdf"
    path.write_bytes(data)
    return subprocess.run([need_tool("pdffonts"), str(path)], capture_output=True, text=True, check=True).stdout


def test_chinese_text_is_embedded_and_reads_back(tmp_path):
    try:
        data = render_pdf("documents/selftest.html", {
            "title": "开标记录表", "rows": [("江苏宁建建设集团有限公司", "12,345,678.90")]})
    except OSError as exc:  # Pango missing
        need_service("Pango for WeasyPrint", str(exc))
    assert data.startswith(b"%PDF")
    text = pdf_text(data, tmp_path)
    assert "开标记录表" in text and "江苏宁建建设集团有限公司" in text and "12,345,678.90" in text
    fonts = pdf_fonts(data, tmp_path)
    cjk = [line for line in fonts.splitlines() if "CJK" in line or "WenQuanYi" in line]
    assert cjk, fonts
    assert all(" yes " in line for line in cjk), fonts  # embedded
