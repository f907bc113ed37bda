from django.urls import path

from refresh import views

app_name = "refresh"

urlpatterns = [
    path("", views.eligibility, name="eligibility"),
    path("export.<str:fmt>", views.eligibility_export, name="eligibility_export"),
    path("recompute/", views.eligibility_recompute, name="eligibility_recompute"),
    path("policies/", views.policy_list, name="policy_list"),
    path("bau-rates/", views.bau_rates, name="bau_rates"),
    path("forecast/", views.forecast, name="forecast"),
    path("forecast/export.csv", views.forecast_export, name="forecast_export"),
    path("forecast/baselines/", views.baseline_create, name="baseline_create"),
    path("failure-rates/", views.failure_rates, name="failure_rates"),
    path("scenarios/", views.scenario_list, name="scenario_list"),
    path("scenarios/new/", views.scenario_edit, name="scenario_create"),
    path("scenarios/<int:pk>/", views.scenario_compare, name="scenario_compare"),
    path("scenarios/<int:pk>/edit/", views.scenario_edit, name="scenario_edit"),
    path("waves/", views.wave_list, name="wave_list"),
    path("waves/<int:pk>/", views.wave_detail, name="wave_detail"),
    path("waves/<int:pk>/swaps/<int:item_pk>/", views.wave_item_detail, name="wave_item_detail"),
    path(
        "waves/<int:pk>/swaps/<int:item_pk>/cancel/",
        views.wave_item_cancel,
        name="wave_item_cancel",
    ),
]
