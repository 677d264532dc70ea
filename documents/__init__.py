"""Documents the platform produces for people to keep: the opening record and the evaluation
report as PDFs (``documents.pdf.render_pdf``), from the templates under ``documents/templates``.

The apps call it; the pages (``frontend``) do not own it. It knows no domain: an app passes a
template name and a context."""
