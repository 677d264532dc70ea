from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import ApiToken, User
from audit.log import log_action
from common.actor import Actor


class Command(BaseCommand):
    help = "Issue an API token for a user (for integrations and the sealbid tool); prints it once."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="cli")

    def handle(self, *args, username, name, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}")
        with transaction.atomic():
            token, secret = ApiToken.issue(user, name)
            log_action("accounts.token.created", actor=Actor.system("issue_token"), obj=token,
                       data={"name": name, "key_id": token.key_id, "user": username})
        self.stdout.write(secret)
