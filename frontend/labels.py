"""Labels the pages' ES modules show, translated on the server (the pages hold no msgids)."""

from django.utils.translation import gettext as _


def conn_labels() -> dict:
    """The realtime connection's states, as the pages' status line shows them."""
    return {"connecting": _("Connecting…"), "connected": _("Connected"),
            "reconnecting": _("Reconnecting…"), "resynced": _("Resynced"), "signed_out": _("Signed out")}


def media_labels() -> dict:
    """The audio and video panel (media.js) of the venues and the hall."""
    return {"connecting": _("Connecting audio and video…"), "live": _("Audio and video on"),
            "watching": _("Watching and listening (muted)"), "reconnecting": _("Audio and video interrupted: reconnecting…"),
            "dropped": _("audio and video dropped"), "failed": _("this stream failed"),
            "refused": _("The media server refused this room"), "unavailable": _("Video unavailable"),
            "no_camera": _("No camera or microphone: watching only"), "you": _("you"), "host": _("Host"),
            "tts": _("Bid announcement read aloud"), "tts_unavailable": _("Speech unavailable")}


def price_labels() -> dict:
    """The price panel (venue_prices.js): price scores as computed, and the price review."""
    return {
        "price_meta": _("Benchmark {benchmark} 元 ({kind}); mean {mean} 元; K {k} %; deductions: {deduction}; "
                        "scores rounded once to {decimals} places ({mode})."),
        "benchmarks": {"lowest": _("the lowest valid price"), "mean": _("the trimmed mean of the valid prices"),
                       "composite": _("the ceiling price and the mean, weighted")},
        "deductions": {"linear": _("in proportion"), "stepped": _("a started step counts whole"),
                       "ignored": _("a partial step is not counted"), "interpolated": _("by bands")},
        "ratio": _("benchmark / price × the price points"),
        "modes": {"ROUND_HALF_UP": _("half up"), "ROUND_HALF_EVEN": _("half to even"),
                  "ROUND_HALF_DOWN": _("half down"), "ROUND_DOWN": _("toward zero"), "ROUND_UP": _("away from zero"),
                  "ROUND_FLOOR": _("down"), "ROUND_CEILING": _("up")},
        "price_scored": _("Price scored (元)"), "deviation": _("Deviation (%)"),
        "deviation_used": _("Deviation as scored (%)"), "deduction": _("Points off"),
        "exact_score": _("Exact score"), "price_score": _("Price score"),
        "above_ceiling": _("{bidder}: rejected, above the ceiling price"),
        "low_flagged": _("{bidder}: abnormally low ({percent} % of the basis); the committee asks for an explanation"),
        "low_asked": _("{bidder}: abnormally low; the bidder was asked to explain its price"),
        "low_flagged_blind": _("{bidder}: abnormally low; the committee asks for an explanation"),
        "low_decided": _("{bidder}: the committee decided: {decision} ({reasons})"),
        "decisions": {"accepted": _("price accepted"), "rejected": _("bid rejected")},
        "correction": _("{bidder}: corrected price {price} 元 put to the bidder: {status}"),
        "correction_status": {"proposed": _("awaiting confirmation"), "confirmed": _("confirmed"),
                              "declined": _("declined, bid rejected"), "expired": _("not confirmed in time, bid rejected")},
        "bill": _("{bidder}: priced bill of {lines} lines: {found}"), "no_findings": _("nothing found"),
        "findings": {"line_arithmetic": _("line totals"), "decimal_misplaced": _("decimal point"),
                     "section_total": _("section totals"), "grand_total": _("grand total"),
                     "price_mismatch": _("differs from the announced price"),
                     "quantity_changed": _("quantities changed"), "item_changed": _("items changed"),
                     "missing_item": _("missing items"), "extra_item": _("extra items"),
                     "duplicate_item": _("duplicate items"), "unreadable": _("unreadable cells"),
                     "words_mismatch": _("words differ from figures"), "words_unreadable": _("words unreadable"),
                     "form_price_mismatch": _("bid form differs from the announced price"),
                     "bill_unreadable": _("bill unreadable")},
    }
