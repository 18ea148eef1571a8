"""URLs of the views the adapter's tests drive."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

urlpatterns = [
    path("hello/", views.hello),
    path("invoices/<int:pk>/emit/", views.emit_here, name="emit-here"),
    path("invoices/<int:pk>/", views.forbidden, name="invoice"),
    path("forbidden-response/", views.forbidden_response),
    path("denied-after-looking/<str:at>/", views.denied_after_looking),
    path("denied-by-app/", views.denied_by_app),
    path("limited/", views.limited),
    path("status/<int:code>/", views.status),
    path("suspicious/", views.suspicious),
    path("bad-request/", views.bad_request),
    path("boom/", views.boom),
    path("who/", views.who),
    path("upload/", views.upload),
    path("store/", views.store),
    path("stream/", views.stream),
    path("private/", views.private),
    path("post-only/", views.post_only),
    path("upload-own-handlers/", views.upload_own_handlers),
    path("fields/", views.fields),
    path("contact/", views.contact),
    path("patients/<int:pk>/", views.patient),
    path("patients-async/<int:pk>/", views.patient_async),
    path("async/hello/", views.async_hello),
    path("async/forbidden/", views.async_forbidden),
    path("api/signup/", views.SignupAPI.as_view()),
    path("api/private/", views.PrivateAPI.as_view()),
    path("api/users/<int:pk>/", views.UserAPI.as_view()),
    path("api/burst/", views.BurstAPI.as_view()),
    path("login/", auth_views.LoginView.as_view()),
    path("logout/", auth_views.LogoutView.as_view()),
    path("admin/", admin.site.urls),
]
