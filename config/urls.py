from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from realtime.media_events import media_events

from .api import api
from .health import healthz
from .metrics import metrics_view

admin.site.site_header = "不见面开标与远程异地评标平台 · 管理"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("api/v1/", api.urls),
    path("media/events", media_events, name="media-events"),  # Janus's event handler only
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("", include("frontend.urls")),
]

handler404 = "frontend.views.not_found"
handler500 = "frontend.views.server_error"
