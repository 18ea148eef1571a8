"""The example site's pages: each shows one kind of security event secmon logs by itself."""

import hashlib

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django_ratelimit.decorators import ratelimit

from secmon.django.decorators import sensitive_read

from .forms import ContactForm, UploadForm
from .models import Customer


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/home.html")


@permission_required("portal.view_customer", raise_exception=True)
def customers(request: HttpRequest) -> HttpResponse:
    """403 -> authz_fail for users without the permission; the list -> sensitive_read."""
    rows = list(Customer.sensitive.order_by("name"))
    return render(request, "portal/customers.html", {"customers": rows})


@permission_required("portal.view_customer", raise_exception=True)
@sensitive_read("customer")
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer.objects, pk=pk)
    return render(request, "portal/customer_detail.html", {"customer": customer})


@login_required
def contact(request: HttpRequest) -> HttpResponse:
    form = ContactForm(request.POST or None)
    if form.is_valid():
        return render(request, "portal/contact.html", {"sent": True})
    return render(request, "portal/contact.html", {"form": form})


@login_required
def upload(request: HttpRequest) -> HttpResponse:
    """secmon inspects the file before this view runs; the view still reads all of it."""
    form = UploadForm(request.POST or None, request.FILES or None)
    digest = None
    if form.is_valid():
        digest = hashlib.sha256(form.cleaned_data["file"].read()).hexdigest()
    return render(request, "portal/upload.html", {"form": form, "sha256": digest})


@ratelimit(key="ip", rate="5/m", block=True)
def ping(request: HttpRequest) -> JsonResponse:
    """Over 5 a minute per address: Ratelimited -> excess_rate_limit_exceeded."""
    return JsonResponse({"pong": True})
