"""PDFs of records (the opening record, the evaluation report) from HTML templates.

WeasyPrint lays out the HTML with Pango and embeds the fonts it uses — Noto Sans CJK (Debian's
fonts-noto-cjk) for the Chinese text — so the printed record reads the same on any reader, which
reportlab's built-in CID fonts do not guarantee (they are not embedded).
"""

from __future__ import annotations

from django.template.loader import render_to_string
from django.utils import translation

PDF_STYLESHEET = """
@page { size: A4; margin: 18mm 16mm 20mm 16mm;
        @bottom-center { content: "第 " counter(page) " 页 / 共 " counter(pages) " 页";
                         font-size: 9pt; color: #444; } }
body { font-family: "Noto Sans CJK SC", "Noto Serif CJK SC", "WenQuanYi Micro Hei", sans-serif;
       font-size: 10.5pt; line-height: 1.5; color: #000; }
h1 { font-size: 16pt; text-align: center; margin: 0 0 4mm; }
h2 { font-size: 12pt; margin: 6mm 0 2mm; border-bottom: 0.5pt solid #000; }
table { width: 100%; border-collapse: collapse; margin: 2mm 0; }
th, td { border: 0.5pt solid #000; padding: 1.5mm 2mm; text-align: left; vertical-align: top; }
th { background: #eee; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.mono { font-family: "DejaVu Sans Mono", monospace; font-size: 8pt; word-break: break-all; }
.meta { font-size: 9pt; color: #333; }
.nowrap { white-space: nowrap; }
"""


def render_pdf(template: str, context: dict, *, language: str = "zh-hans") -> bytes:
    """Render ``template`` with ``context`` into PDF bytes, in ``language``."""
    from weasyprint import CSS, HTML  # imported late: it loads Pango, which pages do not need

    with translation.override(language):
        html = render_to_string(template, context)
    return HTML(string=html).write_pdf(stylesheets=[CSS(string=PDF_STYLESHEET)])
