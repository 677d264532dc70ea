"""``manage.py provision_keys``: create the platform's own keys where the settings say they live, once
(docs/operations.md, "Keys"). A production server never creates them on first use (it refuses to
start an action that needs a missing key), so an operator runs this once per installation and backs
the files up; an existing file is never overwritten."""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from common.files import create_secret_file
from crypto import ca, gm, signing, sm2_x509


class Command(BaseCommand):
    help = "Create the platform signing key, the bidder CA key and the exchange signing key if they do not exist (mode 0600)."

    def add_arguments(self, parser):
        parser.add_argument("--sm2-ca", action="store_true",
                            help="also the SM2 CA key and the SM2 signing key of the gm suite (国密 tenders: "
                                 "receipts, optional SM2 checkpoint lines; docs/cryptography.md)")

    def handle(self, *args, **options):
        password = os.environ.get("PLATFORM_SIGNING_KEY_PASSWORD")
        exchange_password = os.environ.get("EXCHANGE_SIGNING_KEY_PASSWORD")
        wanted = [
            (Path(settings.PLATFORM_SIGNING_KEY_FILE), "the platform signing key",
             lambda: signing.signing_key_to_pem(signing.generate_signing_key(),
                                                password.encode() if password else None)),
            (Path(settings.PLATFORM_CA_KEY_FILE), "the bidder CA key",
             lambda: ca.ca_key_to_pem(ca.generate_ca_key())),
            # the outbox's pushes are signed with a key of their own (docs/data-exchange.md)
            (Path(settings.EXCHANGE_SIGNING_KEY_FILE), "the exchange signing key",
             lambda: signing.signing_key_to_pem(signing.generate_signing_key(),
                                                exchange_password.encode() if exchange_password else None)),
        ]
        if options.get("sm2_ca"):
            wanted.append((Path(settings.PLATFORM_SM2_CA_KEY_FILE), "the bidder SM2 CA key",
                           lambda: sm2_x509.private_key_to_pem(gm.generate_sm2_key())))
            wanted.append((Path(settings.PLATFORM_SM2_SIGNING_KEY_FILE), "the platform SM2 signing key",
                           lambda: sm2_x509.private_key_to_pem(gm.generate_sm2_key())))
        for path, what, make in wanted:
            if path.exists():
                self.stdout.write(f"{what}: {path} exists, kept")
                continue
            create_secret_file(path, make())
            self.stdout.write(f"{what}: created {path}")
