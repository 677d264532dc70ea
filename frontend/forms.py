from __future__ import annotations

import json

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Organisation
from bidding import lifecycle

# The same bounds as bidding.lifecycle.validate_schedule, so the form says it next to the field first.
WINDOW = {"min_value": 5, "max_value": 24 * 60}
MIN_BIDS = {"min_value": lifecycle.LEGAL_MIN_BIDS, "max_value": lifecycle.MAX_MIN_BIDS}
SIGNIN_HELP = _("Optional: left empty, sign-in opens at the deadline. Beijing time.")

DT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class JSONListField(forms.CharField):
    widget = forms.Textarea(attrs={"rows": 6, "class": "mono"})

    def prepare_value(self, value):
        if isinstance(value, (list, dict)):
            return json.dumps(value, ensure_ascii=False, indent=2)
        return value

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise forms.ValidationError(_("Enter valid JSON.")) from None


SUITE_CHOICES = [("intl", _("international (P-256, AES-GCM, SHA-256)")),
                 ("gm", _("Chinese commercial cryptography (SM2, SM4-GCM, SM3)"))]


class ProjectLotForm(forms.Form):
    project_code = forms.CharField(label=_("project code"), max_length=50)
    project_title = forms.CharField(label=_("project title"), max_length=200)
    tenderee = forms.ModelChoiceField(label=_("tenderee"), queryset=Organisation.objects.filter(
        kind=Organisation.Kind.TENDEREE))
    lot_code = forms.CharField(label=_("lot code"), max_length=50, initial="01")
    lot_title = forms.CharField(label=_("lot title"), max_length=200)
    bid_deadline = forms.DateTimeField(label=_("bid deadline (= opening time)"), widget=DT)
    signin_opens_at = forms.DateTimeField(label=_("hall sign-in opens at"), widget=DT, required=False,
                                          help_text=SIGNIN_HELP)
    decryption_window_minutes = forms.IntegerField(label=_("decryption window (minutes)"), initial=30,
                                                   **WINDOW)
    confirmation_window_minutes = forms.IntegerField(label=_("confirmation window (minutes)"), initial=30,
                                                     **WINDOW)
    min_bids = forms.IntegerField(label=_("minimum number of bids"), initial=lifecycle.LEGAL_MIN_BIDS, **MIN_BIDS)
    cipher_suite = forms.ChoiceField(label=_("cipher suite"), initial="intl", required=False, choices=SUITE_CHOICES)
    announced_fields = JSONListField(label=_("announced fields"),
                                     initial=lifecycle.DEFAULT_ANNOUNCED_FIELDS)


class LotEditForm(forms.Form):
    title = forms.CharField(label=_("lot title"), max_length=200)
    description = forms.CharField(label=_("description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    bid_deadline = forms.DateTimeField(label=_("bid deadline (= opening time)"), widget=DT)
    signin_opens_at = forms.DateTimeField(label=_("hall sign-in opens at"), widget=DT, required=False,
                                          help_text=SIGNIN_HELP)
    decryption_window_minutes = forms.IntegerField(label=_("decryption window (minutes)"), **WINDOW)
    confirmation_window_minutes = forms.IntegerField(label=_("confirmation window (minutes)"), **WINDOW)
    min_bids = forms.IntegerField(label=_("minimum number of bids"), **MIN_BIDS)
    cipher_suite = forms.ChoiceField(label=_("cipher suite"), choices=SUITE_CHOICES)
    announced_fields = JSONListField(label=_("announced fields"))


class AmendForm(LotEditForm):
    reason = forms.CharField(label=_("reason for the amendment"), widget=forms.Textarea(attrs={"rows": 2}))


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("reason"), widget=forms.Textarea(attrs={"rows": 2}))
