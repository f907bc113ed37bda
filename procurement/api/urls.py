from django.urls import path
from rest_framework.routers import DefaultRouter

from procurement.api import views

router = DefaultRouter()
router.register("budget-lines", views.BudgetLineViewSet, basename="budget-line")
router.register("contracts", views.ContractViewSet, basename="contract")
router.register("purchase-orders", views.PurchaseOrderViewSet, basename="purchase-order")

urlpatterns = [
    path("envelope-position/", views.EnvelopePositionView.as_view(), name="envelope-position"),
    *router.urls,
]
