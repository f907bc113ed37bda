from rest_framework.routers import DefaultRouter

from reports.api import views

router = DefaultRouter()
router.register("runs", views.ReportRunViewSet, basename="report-run")

urlpatterns = router.urls
