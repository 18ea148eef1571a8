"""Views the adapter's tests drive through Django's test client."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousFileOperation
from django.core.files.uploadhandler import MemoryFileUploadHandler
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseForbidden,
    JsonResponse,
    StreamingHttpResponse,
)
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_ratelimit.decorators import ratelimit
from rest_framework import exceptions, serializers
from rest_framework.generics import RetrieveAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

import secmon
from secmon.django.decorators import sensitive_read
from secmon.django.forms import SecurityFormMixin


def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse("hello")


def emit_here(request: HttpRequest, pk: int) -> HttpResponse:
    secmon.emit("sensitive_read", resource_type="invoice", resource_id=pk)
    return HttpResponse("ok")


def forbidden(request: HttpRequest, pk: int) -> HttpResponse:
    raise PermissionDenied("not your invoice")


def denied_after_looking(request: HttpRequest, at: str) -> HttpResponse:
    if at == "user":
        request.user.is_authenticated  # noqa: B018 - the app evaluates the user
    else:
        request.session.get("cart")
    raise PermissionDenied


def forbidden_response(request: HttpRequest) -> HttpResponse:
    return HttpResponseForbidden("no")


def denied_by_app(request: HttpRequest) -> HttpResponse:
    secmon.access_denied(resource_type="invoice", resource_id=7, reason="not owner")
    raise PermissionDenied


@ratelimit(key="ip", rate="2/m", block=True)
def limited(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def status(request: HttpRequest, code: int) -> HttpResponse:
    return HttpResponse(status=code)


def suspicious(request: HttpRequest) -> HttpResponse:
    raise SuspiciousFileOperation("detected path traversal attempt in '../../etc/passwd'")


def bad_request(request: HttpRequest) -> HttpResponse:
    raise BadRequest("malformed filter")


def boom(request: HttpRequest) -> HttpResponse:
    password = "hunter2-in-a-local"  # noqa: F841 - locals must never be logged
    raise ValueError("failed with token=abcdef0123456789abcdef0123")


def who(request: HttpRequest) -> HttpResponse:
    return HttpResponse(str(request.user.pk))


def upload(request: HttpRequest) -> HttpResponse:
    digests = {name: hashlib.sha256(f.read()).hexdigest() for name, f in request.FILES.items()}
    for name in digests:
        secmon.emit("upload_stored", field=name)
    return JsonResponse(digests)


@csrf_exempt
@csrf_exempt
def store(request: HttpRequest) -> HttpResponse:
    """Uploads as an app without secmon would take them."""
    return JsonResponse({name: [hashlib.sha256(f.read()).hexdigest(), f.name]
                         for name, f in request.FILES.items()})


def stream(request: HttpRequest) -> StreamingHttpResponse:
    def rows() -> Iterator[str]:
        yield "first,"
        yield f"user={request.user.pk},"
        yield "last"
    return StreamingHttpResponse(rows(), content_type="text/csv")


@login_required
def private(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"hello {request.user.get_username()}")


@require_POST
def post_only(request: HttpRequest) -> HttpResponse:
    return HttpResponse("posted")


@csrf_exempt
def upload_own_handlers(request: HttpRequest) -> HttpResponse:
    # Allowed only while the body is unparsed: monitoring must not parse it first.
    request.upload_handlers = [MemoryFileUploadHandler(request)]
    return upload(request)


@csrf_exempt
def fields(request: HttpRequest) -> HttpResponse:
    return HttpResponse(str(len(request.POST)))


class ContactForm(SecurityFormMixin, forms.Form):
    email = forms.EmailField()
    message = forms.CharField(min_length=10)
    password = forms.CharField(required=False)


def contact(request: HttpRequest) -> HttpResponse:
    form = ContactForm(request.POST or None)
    if form.is_valid():
        return HttpResponse("thanks")
    form.is_valid()  # asked again: still one event
    return HttpResponse("invalid")


@sensitive_read("patient")
def patient(request: HttpRequest, pk: int) -> HttpResponse:
    if pk == 404:
        return HttpResponse(status=404)
    return HttpResponse(f"patient {pk}")


@sensitive_read("patient")
async def patient_async(request: HttpRequest, pk: int) -> HttpResponse:
    return HttpResponse(f"patient {pk}")


async def async_hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse("hello")


async def async_forbidden(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied("async denial")


# -- Django REST framework ---------------------------------------------------------------------


class SignupSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(min_length=12)


class SignupAPI(APIView):
    authentication_classes: list[Any] = []

    def post(self, request: Any) -> Response:
        serializer = SignupSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response({"ok": True})


class PrivateAPI(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request: Any) -> Response:
        return Response({"ok": True})


class UserAPI(RetrieveAPIView):
    queryset = get_user_model().objects.all()
    authentication_classes: list[Any] = []

    def get_object(self) -> Any:
        raise exceptions.PermissionDenied("not your account")


class BurstAPI(APIView):
    authentication_classes: list[Any] = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "burst"

    def get(self, request: Any) -> Response:
        return Response({"ok": True})
