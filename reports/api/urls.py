from api.routers import ApiRouter
from reports.api import views

router = ApiRouter()
router.register("runs", views.ReportRunViewSet, basename="report-run")

urlpatterns = router.urls
