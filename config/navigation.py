"""Navigation for the base layout: one list, filtered by what the user may see.

It names every app's pages, so it lives in the project package above the apps."""

from django.urls import reverse

from accounts.roles import Role, user_roles

# (url name, label, roles that see it; None means everyone signed in)
NAVIGATION = [
    ("dashboard", "Home", None),
    ("devices:device_list", "Devices", None),
    ("devices:import_list", "Import", {Role.ASSET_MANAGER}),
    ("refresh:eligibility", "Refresh", {Role.ASSET_MANAGER, Role.FINANCE, Role.COMMERCIAL}),
    ("procurement:dashboard", "Finance", {Role.FINANCE, Role.COMMERCIAL, Role.ASSET_MANAGER}),
    ("disposals:board", "Disposals", {Role.ASSET_MANAGER, Role.FINANCE, Role.COMMERCIAL}),
    ("reports:report_list", "Reports", None),
]


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"navigation": []}
    roles = user_roles(user)
    items = []
    path = request.path
    for name, label, allowed in NAVIGATION:
        if allowed is not None and not (roles & allowed) and not user.is_superuser:
            continue
        url = reverse(name)
        active = path == url if url == "/" else path.startswith(url)
        items.append({"url": url, "label": label, "active": active})
    return {"navigation": items, "user_roles": sorted(r.value for r in roles)}
