from django.urls import path

from api.routers import ApiRouter
from refresh.api import views

router = ApiRouter()
router.register("eligibility", views.EligibilityViewSet, basename="eligibility")

urlpatterns = [
    path("forecast/", views.ForecastView.as_view(), name="refresh-forecast"),
    *router.urls,
]
