"""Forms of the host's evaluation set-up (views_evaluation.py): the committee draw, the scoring table,
the venues and the session. Each only parses; the actions decide."""

from __future__ import annotations

from django import forms
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from evaluation.models import Region, Venue


class DrawForm(forms.Form):
    """Seats per region (the quotas), the specialties the committee must include, its minimum size."""

    required_specialties = forms.CharField(
        label=_("required specialties"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Optional. One a line: specialty, then how many members, e.g. 市政道路 2"))
    min_size = forms.IntegerField(label=_("minimum committee size"), initial=5, min_value=5, max_value=49,
                                  help_text=_("At least 5 (Tendering Law art. 37)."))
    reveal_minutes = forms.IntegerField(
        label=_("reveal window (minutes)"), initial=30, min_value=1, max_value=1440,
        help_text=_("After the pool snapshot is published, the supervisor and the host reveal their values "
                    "within this time; a value not revealed in time is left out."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.regions = list(Region.objects.order_by("code"))
        for region in self.regions:
            self.fields[f"quota_{region.code}"] = forms.IntegerField(
                label=mark_safe(escape(_("experts from %(region)s")) % {  # noqa: S308 - escaped parts
                    "region": format_html('<span translate="no">{}</span>', region.name)}), min_value=0, max_value=49,
                initial=0, required=False)

    def clean_required_specialties(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for n, line in enumerate(self.cleaned_data["required_specialties"].splitlines(), start=1):
            if not line.strip():
                continue
            name, _sep, count = line.strip().rpartition(" ")
            if not name.strip() or not count.isdigit() or int(count) < 1:
                raise forms.ValidationError(_("Line %(n)d: a specialty, a space, then a number.") % {"n": n})
            out[name.strip()] = int(count)
        return out

    def clean(self):
        data = super().clean()
        quotas = {r.code: data.get(f"quota_{r.code}") or 0 for r in self.regions}
        data["quotas"] = {code: n for code, n in quotas.items() if n}
        total = sum(data["quotas"].values())
        if not data["quotas"]:
            raise forms.ValidationError(_("Give at least one region its number of experts."))
        size = data.get("min_size")
        if size is not None and total < size:
            raise forms.ValidationError(_("The quotas add up to %(total)d, fewer than the minimum size %(size)d.")
                                        % {"total": total, "size": size})
        return data

    def quota_fields(self):
        return [self[f"quota_{r.code}"] for r in self.regions]


CATEGORIES = [("technical", _("technical")), ("business", _("business"))]
KINDS = [("objective", _("objective")), ("subjective", _("subjective"))]


class ItemForm(forms.Form):
    """One row of the scoring table (评分细则)."""

    id = forms.RegexField(label=_("item no."), regex=r"^[A-Za-z][A-Za-z0-9_-]{0,15}$", max_length=16,
                          error_messages={"invalid": _("Letters and digits, e.g. T1.")})
    category = forms.ChoiceField(label=_("category"), choices=CATEGORIES)
    kind = forms.ChoiceField(label=_("kind"), choices=KINDS)
    max = forms.DecimalField(label=_("max points"), min_value=0, max_digits=6, decimal_places=2)
    step = forms.DecimalField(label=_("step"), min_value=0, max_digits=4, decimal_places=2, initial="0.5")


ItemFormSet = forms.formset_factory(ItemForm, extra=1, min_num=1, validate_min=True, can_delete=True)


class SessionForm(forms.Form):
    main_venue = forms.ModelChoiceField(label=_("main venue"), queryset=Venue.objects.none())
    sub_venues = forms.ModelMultipleChoiceField(label=_("sub venues"), queryset=Venue.objects.none(),
                                                widget=forms.CheckboxSelectMultiple)
    criteria = forms.CharField(label=_("compliance review criteria"), widget=forms.Textarea(attrs={"rows": 3}),
                               help_text=_("One a line, as the tender documents state them."))
    blind = forms.BooleanField(label=_("blind evaluation: experts see bidder codes only"), required=False)
    tenderer_reps = forms.MultipleChoiceField(label=_("tenderer's representatives on the committee"),
                                              required=False, widget=forms.CheckboxSelectMultiple)
    k_percent = forms.CharField(label=_("coefficient K (%)"), required=False, max_length=8,
                                help_text=_("Only for the construction price formula: the coefficient drawn at the opening."))

    def __init__(self, *args, committee: list[tuple[str, str]] = (), **kwargs):
        super().__init__(*args, **kwargs)
        venues = Venue.objects.select_related("region").order_by("region__code", "name")
        self.fields["main_venue"].queryset = venues
        self.fields["sub_venues"].queryset = venues
        self.fields["main_venue"].label_from_instance = _venue_label
        self.fields["sub_venues"].label_from_instance = _venue_label
        self.fields["tenderer_reps"].choices = list(committee)

    def clean_criteria(self) -> list[str]:
        lines = [line.strip() for line in self.cleaned_data["criteria"].splitlines() if line.strip()]
        if not lines:
            raise forms.ValidationError(_("At least one criterion."))
        return lines

    def clean(self):
        data = super().clean()
        main, subs = data.get("main_venue"), data.get("sub_venues")
        if main is not None and subs is not None:
            data["sub_venues"] = [v for v in subs if v.pk != main.pk]
            if not data["sub_venues"]:
                self.add_error("sub_venues", _("At least one sub venue besides the main venue."))
        return data


def _venue_label(venue) -> str:
    """The venue as the form lists it; its names are data (``translate="no"``), not the page's words."""
    name = format_html('<span translate="no">{}</span>', venue.name)
    region = format_html('<span translate="no">{}</span>', venue.region.name)
    return mark_safe(escape(_("%(name)s (%(region)s, %(seats)d seats)")) % {  # noqa: S308 - escaped parts
        "name": name, "region": region, "seats": venue.seats})


class CommitForm(forms.Form):
    """A party's commitment (docs/draw.md): the page computes it in the browser from a value it keeps."""

    commitment = forms.RegexField(label=_("commitment (SHA-256, 64 hex digits)"), regex=r"^[0-9a-fA-F]{64}$",
                                  error_messages={"invalid": _("64 hexadecimal digits.")})


class RevealForm(forms.Form):
    value = forms.RegexField(label=_("your value (64 hex digits)"), regex=r"^[0-9a-fA-F]{64}$",
                             error_messages={"invalid": _("64 hexadecimal digits.")})


REDRAW_REASONS = [("too_few_accepted", _("too few drawn experts accepted")),
                  ("legal_recusal", _("a member must withdraw by law")),
                  ("reveals_missing", _("the draw lapsed: nobody revealed in time"))]


class RedrawForm(forms.Form):
    reason = forms.ChoiceField(label=_("reason from the rules"), choices=REDRAW_REASONS)
    note = forms.CharField(label=_("written reasons"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class DecideRedrawForm(forms.Form):
    approve = forms.TypedChoiceField(label=_("decision"), coerce=lambda v: v == "yes",
                                     choices=[("yes", _("approve the redraw")), ("no", _("refuse the redraw"))])
    note = forms.CharField(label=_("written reasons"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
