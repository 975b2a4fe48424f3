"""Make and rotate the private keys that sign access tokens (JWT_PRIVATE_KEYS_FILE).

The file is PEM, one or more private keys: the first signs, all verify, all are
published at /.well-known/jwks.json. Every write replaces the file whole (mode 600).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.sessions import keys


class Command(BaseCommand):
    help = (
        "generate: write a new key file (or print one key with --output -); "
        "rotate: put a new signing key first, older keys keep verifying; "
        "rotate --standby: add a new key last, published but not signing yet; "
        "rotate --promote: move the last key to the front; "
        "retire: drop the oldest key (or --kid), never the signing one; "
        "list: the keys, signing key first."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["generate", "rotate", "retire", "list"])
        parser.add_argument(
            "--file",
            default=None,
            help="The key file (default: JWT_PRIVATE_KEYS_FILE).",
        )
        parser.add_argument(
            "--output", default=None, help="generate: where to write the new file, or - to print."
        )
        parser.add_argument(
            "--algorithm",
            choices=keys.ASYMMETRIC,
            default=None,
            help="The key type (default: JWT_ALGORITHM, or ES256 when that is HS256).",
        )
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--standby", action="store_true", help="rotate: add the key last.")
        group.add_argument("--promote", action="store_true", help="rotate: last key to the front.")
        parser.add_argument("--kid", default=None, help="retire: the key to drop.")

    def handle(self, *args, action, **options):
        try:
            getattr(self, f"_{action}")(**options)
        except keys.KeyFileError as error:
            raise CommandError(str(error)) from None

    def _algorithm(self, options) -> str:
        if options["algorithm"]:
            return options["algorithm"]
        return settings.JWT_ALGORITHM if settings.JWT_ALGORITHM in keys.ASYMMETRIC else "ES256"

    def _path(self, options) -> Path:
        path = options["file"] or settings.JWT_PRIVATE_KEYS_FILE
        if not path:
            raise CommandError("Name the key file with --file or JWT_PRIVATE_KEYS_FILE.")
        return Path(path)

    def _read(self, path: Path) -> list:
        try:
            private_keys = keys.parse_pem_keys(path.read_bytes())
        except OSError as error:
            raise CommandError(f"{path} cannot be read: {error.strerror}.") from None
        if not private_keys:
            raise CommandError(f"{path} holds no private key.")
        return private_keys

    def _write(self, path: Path, private_keys: list) -> None:
        data = b"".join(keys.to_pem(key) for key in private_keys)
        handle, temporary = tempfile.mkstemp(dir=path.parent or ".", prefix=".jwt-keys-")
        try:
            os.fchmod(handle, 0o600)
            os.write(handle, data)
            os.fsync(handle)
        finally:
            os.close(handle)
        os.replace(temporary, path)

    def _describe(self, private_keys: list) -> None:
        for position, private_key in enumerate(private_keys):
            key = keys.asymmetric_key(private_key, keys.algorithm_of(private_key))
            role = "signs and verifies" if position == 0 else "verifies"
            self.stdout.write(f"{key.kid}  {keys.algorithm_of(private_key)}  {role}")

    def _generate(self, **options) -> None:
        private_key = keys.generate_private_key(self._algorithm(options))
        target = options["output"] or options["file"] or settings.JWT_PRIVATE_KEYS_FILE
        if target in (None, "", "-"):
            sys.stdout.buffer.write(keys.to_pem(private_key))
            return
        path = Path(target)
        if path.exists():
            raise CommandError(f"{path} exists; use rotate to add a key to it.")
        self._write(path, [private_key])
        self._describe([private_key])

    def _rotate(self, **options) -> None:
        path = self._path(options)
        private_keys = self._read(path)
        if options["promote"]:
            if len(private_keys) < 2:
                raise CommandError("There is no other key to promote.")
            private_keys = [private_keys[-1], *private_keys[:-1]]
        else:
            algorithm = options["algorithm"] or keys.algorithm_of(private_keys[0])
            new_key = keys.generate_private_key(algorithm)
            private_keys = (
                [*private_keys, new_key] if options["standby"] else [new_key, *private_keys]
            )
        self._write(path, private_keys)
        self._describe(private_keys)

    def _retire(self, **options) -> None:
        path = self._path(options)
        private_keys = self._read(path)
        if len(private_keys) < 2:
            raise CommandError("The only key signs every token; it cannot be retired.")
        kids = [keys.asymmetric_key(key, keys.algorithm_of(key)).kid for key in private_keys]
        if options["kid"] is None:
            index = len(private_keys) - 1
        elif options["kid"] in kids[1:]:
            index = kids.index(options["kid"])
        elif options["kid"] == kids[0]:
            raise CommandError("That key signs new tokens; rotate first, then retire it.")
        else:
            raise CommandError(f"No key {options['kid']} in {path}.")
        del private_keys[index]
        self._write(path, private_keys)
        self.stdout.write(f"retired {kids[index]}")
        self._describe(private_keys)

    def _list(self, **options) -> None:
        self._describe(self._read(self._path(options)))
