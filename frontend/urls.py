from django.conf import settings
from django.urls import path
from django.views.generic import TemplateView

from accounts.views import LoginView, LogoutView

from . import (views, views_award, views_bids, views_collusion, views_draws, views_evaluation, views_exchange,
               views_recordings, views_venues)

app_name = "frontend"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("tenders/", views.tender_list, name="tender_list"),
    path("tenders/new/", views.tender_create, name="tender_create"),
    path("tenders/<int:lot_id>/", views.tender_detail, name="tender_detail"),
    path("tenders/<int:lot_id>/publish/", views.tender_publish, name="tender_publish"),
    path("tenders/<int:lot_id>/cancel/", views.tender_cancel, name="tender_cancel"),
    path("console/", views.console, name="console"),
    path("keys/", views_bids.bidder_keys, name="bidder_keys"),
    path("certificates/", views_bids.certificate_requests, name="certificate_requests"),
    path("tenders/<int:lot_id>/bid/", views_bids.bid_submit, name="bid_submit"),
    path("tenders/<int:lot_id>/receipt/", views_bids.bid_receipt, name="bid_receipt"),
    path("tenders/<int:lot_id>/publicity/", views_award.publicity_page, name="publicity"),
    path("tenders/<int:lot_id>/hall/", views_bids.hall, name="hall"),
    path("tenders/<int:lot_id>/evaluation/", views_evaluation.evaluation_setup, name="evaluation_setup"),
    path("tenders/<int:lot_id>/evaluation/follow/", views_evaluation.evaluation_follow, name="evaluation_follow"),
    path("evaluation/draws/", views_draws.supervisor_draws, name="supervisor_draws"),
    path("evaluation/", views_venues.evaluation_sessions, name="evaluation_sessions"),
    path("evaluation/<int:session_id>/venues/<int:venue_id>/", views_venues.venue, name="venue"),
    path("evaluation/<int:session_id>/collusion/", views_collusion.committee_leads, name="collusion_committee"),
    path("exchange/dead-letters/", views_exchange.dead_letters, name="dead_letters"),
    path("console/recordings/", views_recordings.recordings, name="recordings"),
    path("console/collusion/", views_collusion.supervisor_leads, name="collusion_leads"),
]

if settings.DEBUG or settings.E2E_TEST_PAGES:
    # Test-only pages for the browser suite (tests/e2e/); they hold no data, only static code.
    urlpatterns += [
        path("_test/crypto/", TemplateView.as_view(template_name="frontend/crypto_selftest.html"),
             name="crypto_selftest"),
    ]
