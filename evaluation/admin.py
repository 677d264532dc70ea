from django.contrib import admin

from .models import Expert, Region, Venue

admin.site.register(Region)


@admin.register(Venue)
class VenueAdmin(admin.ModelAdmin):
    list_display = ["name", "region", "centre", "seats"]
    filter_horizontal = ["staff"]


@admin.register(Expert)
class ExpertAdmin(admin.ModelAdmin):
    list_display = ["user", "region", "category", "title", "available"]
    list_filter = ["region", "category", "available"]
