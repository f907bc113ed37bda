from django.urls import path

from disposals import views

app_name = "disposals"

urlpatterns = [
    path("", views.board, name="board"),
    path("bulk/", views.board_bulk, name="board_bulk"),
    path("summary/", views.summary, name="summary"),
    path("value-rule/", views.value_rule, name="value_rule"),
    path("sign-offs/", views.route_sign_offs, name="route_sign_offs"),
    path("find/", views.device_lookup, name="device_lookup"),
    path("devices/<int:device_id>/custody/", views.device_custody, name="device_custody"),
    path(
        "devices/<int:device_id>/custody.pdf", views.device_custody_pdf, name="device_custody_pdf"
    ),
    path("consignments/", views.consignment_list, name="consignment_list"),
    path("consignments/new/", views.consignment_create, name="consignment_create"),
    path("consignments/<int:pk>/", views.consignment_detail, name="consignment_detail"),
    path(
        "consignments/<int:pk>/dispatch/", views.consignment_dispatch, name="consignment_dispatch"
    ),
    path(
        "consignments/<int:pk>/certificate/",
        views.consignment_certificate,
        name="consignment_certificate",
    ),
    path("consignments/<int:pk>/close/", views.consignment_close, name="consignment_close"),
    path(
        "consignments/<int:pk>/partner-certificate/",
        views.consignment_partner_certificate,
        name="consignment_partner_certificate",
    ),
    path(
        "consignments/<int:pk>/custody.pdf",
        views.consignment_custody_pdf,
        name="consignment_custody_pdf",
    ),
]
