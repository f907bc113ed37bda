from django.urls import path

from api.routers import ApiRouter
from procurement.api import views

router = ApiRouter()
router.register("budget-lines", views.BudgetLineViewSet, basename="budget-line")
router.register("contracts", views.ContractViewSet, basename="contract")
router.register("purchase-orders", views.PurchaseOrderViewSet, basename="purchase-order")

urlpatterns = [
    path("envelope-position/", views.EnvelopePositionView.as_view(), name="envelope-position"),
    *router.urls,
]
