from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("customers/", views.customers, name="customers"),
    path("customers/<int:pk>/", views.customer_detail, name="customer"),
    path("contact/", views.contact, name="contact"),
    path("upload/", views.upload, name="upload"),
    path("api/ping/", views.ping, name="ping"),
]
