"""What every page's template gets: the error labels of the catalogue, for the pages' ES modules
(util.js ``failure``) to show a label instead of an error code."""

from common.labels import labels


def catalogue(request) -> dict:
    return {"kb_error_labels": labels("error")}
