from api.routers import ApiRouter
from devices.api import views

router = ApiRouter()
router.register("devices", views.DeviceViewSet, basename="device")
router.register("events", views.DeviceEventViewSet, basename="device-event")
router.register("business-units", views.BusinessUnitViewSet, basename="business-unit")
router.register("people", views.PersonViewSet, basename="person")
router.register("device-models", views.DeviceModelViewSet, basename="device-model")

urlpatterns = router.urls
