"""Create the demo users and customers (idempotent)."""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandParser

from portal.models import Customer

CUSTOMERS = [
    ("Ada Lovelace", "ada@example.com", "4242"),
    ("Grace Hopper", "grace@example.com", "1881"),
    ("Alan Turing", "alan@example.com", "0000"),
]


class Command(BaseCommand):
    help = "Create alice (no permissions), manager (may view customers), admin, and customers."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--password", required=True, help="password of the three users")

    def handle(self, *args: Any, password: str, **options: Any) -> None:
        User = get_user_model()
        users: dict[str, dict[str, Any]] = {
            "alice": {},
            "manager": {},
            "admin": {"is_staff": True, "is_superuser": True},
        }
        for username, flags in users.items():
            if not User.objects.filter(username=username).exists():
                User.objects.create_user(username, password=password, **flags)
        manager = User.objects.get(username="manager")
        manager.user_permissions.add(
            Permission.objects.get(content_type__app_label="portal", codename="view_customer")
        )
        for name, email, last4 in CUSTOMERS:
            Customer.objects.get_or_create(name=name, email=email, card_last4=last4)
        self.stdout.write(f"demo users: alice, manager, admin; customers: {len(CUSTOMERS)}")
