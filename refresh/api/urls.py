from django.urls import path
from rest_framework.routers import DefaultRouter

from refresh.api import views

router = DefaultRouter()
router.register("eligibility", views.EligibilityViewSet, basename="eligibility")

urlpatterns = [
    path("forecast/", views.ForecastView.as_view(), name="refresh-forecast"),
    *router.urls,
]
