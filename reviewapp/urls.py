from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from reviewapp.ops import views as ops_views
from reviewapp.responses import views as response_views

urlpatterns = [
    path("", response_views.home, name="home"),
    path("sources/", response_views.sources, name="sources"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("reviewapp.api.urls")),
    path("review/", include("reviewapp.review.urls")),
    path("reports/", include("reviewapp.reports.urls")),
    path("healthz", ops_views.healthz, name="healthz"),
    path("healthz/live", ops_views.live, name="healthz-live"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("account/", include("reviewapp.api.urls_account")),
]

# JSON under /api/, the HTML page elsewhere (reviewapp/api/errors.py).
handler404 = "reviewapp.api.errors.page_not_found"
