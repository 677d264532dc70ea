"""The Django admin as a window onto the same rules: a ModelAdmin base whose every save writes an
audit entry with each changed field's old and new values, in the admin's transaction, and which
deletes nothing (records are kept, 电子招标投标办法 49) unless a subclass says what a deletion means
and audits it.

Apps whose rows have workflows (tenders, tokens) do not use plain saves: their admins route saves
through the app's actions or show the fields read-only. This base is for the rows that have no
workflow of their own (organisations, users, regions, venues, experts).

The entries: ``admin.record.created`` / ``admin.record.changed`` with ``data`` = ``{field: [old,
new]}`` (``old`` is ``null`` on creation; foreign keys as the related id, many-to-many as the sorted
ids, times as ISO 8601; a secret field as ``"(secret)"``, never its value), and
``admin.record.deleted`` with ``data`` = ``{field: [old, null]}``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.db import transaction

from common.actor import Actor

from .log import log_action

SECRET = "(secret)"
SECRET_FIELDS = frozenset({"password", "secret_hash", "session_key"})


def jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    return value


def field_value(obj, name: str) -> Any:
    """A field's value as the log states it: JSON-safe, ids for relations, secrets masked."""
    if name in SECRET_FIELDS:
        return SECRET
    field = obj._meta.get_field(name)
    if field.many_to_many:
        if obj.pk is None:
            return []
        return sorted(getattr(obj, name).values_list("pk", flat=True))
    if field.is_relation:
        return getattr(obj, field.attname)
    return jsonable(getattr(obj, name))


def snapshot(obj, names) -> dict[str, Any]:
    return {name: field_value(obj, name) for name in names}


def model_fields(model) -> list[str]:
    return [f.name for f in model._meta.get_fields()
            if (f.concrete or f.many_to_many) and not f.auto_created]


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    return {k: [before.get(k), after[k]] for k in sorted(after) if before.get(k) != after[k]}


class AuditedAdmin(admin.ModelAdmin):
    """Every save audited with old and new values; no deletion (subclasses that allow one audit it
    through ``log_deleted``)."""

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # The admin's change view runs in one transaction: the row, its many-to-many and the entry
        # commit together (save_related logs, after the many-to-many is saved).
        names = model_fields(type(obj))
        stored = type(obj)._default_manager.filter(pk=obj.pk).first() if change else None
        request._audit_before = snapshot(stored, names) if stored is not None else {}
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        obj = form.instance
        before = getattr(request, "_audit_before", {})
        diff = changes(before, snapshot(obj, model_fields(type(obj))))
        if diff or not change:
            log_action("admin.record.changed" if change else "admin.record.created",
                       actor=Actor.from_request(request), obj=obj, data=diff)

    def log_deleted(self, request, obj) -> None:
        log_action("admin.record.deleted", actor=Actor.from_request(request), obj=obj,
                   object_id=obj.pk, data={k: [v, None] for k, v in
                                           snapshot(obj, model_fields(type(obj))).items()})

    def delete_model(self, request, obj):
        with transaction.atomic():
            self.log_deleted(request, obj)
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset:
                self.log_deleted(request, obj)
            super().delete_queryset(request, queryset)


class ViewOnlyAdmin(admin.ModelAdmin):
    """Records that only their own workflow writes: the admin shows them and changes nothing."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
