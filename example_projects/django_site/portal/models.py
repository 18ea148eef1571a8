"""Customers: personal data whose every read is a `sensitive_read` audit event."""

from django.db import models

from secmon.django.querysets import SensitiveQuerySet


class Customer(models.Model):
    name = models.CharField(max_length=100)
    email = models.EmailField()
    card_last4 = models.CharField(max_length=4)

    objects = models.Manager()
    # Rows fetched through this manager are logged as sensitive reads (count and ids).
    sensitive = SensitiveQuerySet.as_manager()

    def __str__(self) -> str:
        return self.name
