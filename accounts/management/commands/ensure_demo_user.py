"""Create (or reset) the demo account that `DEMO=1 make run` prints."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User

DEMO_EMAIL = "demo@surge.local"
DEMO_PASSWORD = "surge-demo-2026"  # noqa: S105 - printed on purpose, development only


class Command(BaseCommand):
    help = "Create or reset the demo user (demo@surge.local)."

    def handle(self, *args, **options):
        if settings.PRODUCTION:  # its password is in this file and in the README
            raise CommandError("The demo user is for development only: refused with "
                               "SURGE_ENV=production.")
        user, created = User.objects.get_or_create(email=DEMO_EMAIL)
        user.set_password(DEMO_PASSWORD)
        user.is_active = True
        user.save()
        verb = "Created" if created else "Reset"
        self.stdout.write(f"{verb} demo user {DEMO_EMAIL} / {DEMO_PASSWORD}")
