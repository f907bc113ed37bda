from django.urls import path

from procurement import views

app_name = "procurement"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("export.xlsx", views.dashboard_export, name="dashboard_export"),
    path("export.csv", views.dashboard_export_csv, name="dashboard_export_csv"),
    path("scenarios/<int:pk>/", views.scenario_envelope, name="scenario_envelope"),
    path("budget-lines/", views.budget_line_list, name="budget_lines"),
    path("contracts/", views.contract_list, name="contract_list"),
    path("contracts/new/", views.contract_create, name="contract_create"),
    path("contracts/<int:pk>/", views.contract_detail, name="contract_detail"),
    path("orders/", views.purchase_order_list, name="purchase_order_list"),
    path("orders/new/", views.purchase_order_create, name="purchase_order_create"),
    path("orders/<int:pk>/", views.purchase_order_detail, name="purchase_order_detail"),
    path("orders/<int:pk>/edit/", views.purchase_order_edit, name="purchase_order_edit"),
    path(
        "orders/<int:pk>/return/",
        views.purchase_order_return_to_draft,
        name="purchase_order_return_to_draft",
    ),
    path("orders/<int:pk>/submit/", views.purchase_order_submit, name="purchase_order_submit"),
    path("orders/<int:pk>/approvals/", views.approval_record_add, name="approval_record_add"),
    path("orders/<int:pk>/approve/", views.purchase_order_approve, name="purchase_order_approve"),
    path(
        "orders/<int:pk>/ordered/", views.purchase_order_mark_ordered, name="purchase_order_ordered"
    ),
    path("orders/<int:pk>/cancel/", views.purchase_order_cancel, name="purchase_order_cancel"),
    path("orders/<int:pk>/close/", views.purchase_order_close, name="purchase_order_close"),
    path("orders/<int:pk>/receive/", views.purchase_order_receive, name="purchase_order_receive"),
]
