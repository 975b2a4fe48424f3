"""The keys that sign and verify access tokens.

`JWT_ALGORITHM=HS256` (the default) signs with one shared secret, `JWT_SECRET_KEY`. With
`ES256`, `EdDSA` or `RS256` the keys are private keys in one PEM file,
`JWT_PRIVATE_KEYS_FILE`: the first signs, every one verifies, and their public halves
are published as a JWK set, so other services verify tokens without any secret. Each
key is named by its `kid`, the RFC 7638 thumbprint of its public half. The file is
read again whenever it changes, so a rotation needs no restart.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.conf import settings
from django.utils.crypto import salted_hmac
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

logger = logging.getLogger("accounts")

SYMMETRIC = "HS256"
ASYMMETRIC = ("ES256", "EdDSA", "RS256")
ALGORITHMS = (SYMMETRIC, *ASYMMETRIC)
MIN_RSA_BITS = 2048

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z ]+)-----.+?-----END \1-----\s*", re.DOTALL)
# The members of each key type that RFC 7638 hashes, in its order.
_THUMBPRINT_MEMBERS = {
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
    "RSA": ("e", "kty", "n"),
}
_JWK_OF: dict[str, Any] = {
    "ES256": ECAlgorithm.to_jwk,
    "EdDSA": OKPAlgorithm.to_jwk,
    "RS256": RSAAlgorithm.to_jwk,
}


class KeyFileError(ValueError):
    """The key file is missing, unreadable, or holds a key that does not fit."""


@dataclass(frozen=True)
class Key:
    kid: str
    signing_key: Any  # what PyJWT signs with: a private key, or the HS256 secret
    verifying_key: Any  # what PyJWT verifies with: its public half, or the secret
    public_jwk: dict | None  # None for the HS256 secret, which is never published


@dataclass(frozen=True)
class KeySet:
    algorithm: str
    keys: tuple[Key, ...]

    @property
    def signing(self) -> Key:
        return self.keys[0]

    def find(self, kid: str) -> Key | None:
        return next((key for key in self.keys if key.kid == kid), None)

    def jwks(self) -> dict:
        return {"keys": [key.public_jwk for key in self.keys if key.public_jwk]}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def thumbprint(jwk: dict) -> str:
    """The RFC 7638 thumbprint (SHA-256, base64url) of a public JWK."""
    members = {name: jwk[name] for name in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode()).digest())


def generate_private_key(algorithm: str):
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    raise KeyFileError(f"No key pair for {algorithm}; use one of {', '.join(ASYMMETRIC)}.")


def to_pem(private_key) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def algorithm_of(private_key) -> str:
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        if isinstance(private_key.curve, ec.SECP256R1):
            return "ES256"
        raise KeyFileError(f"EC keys must be on P-256 for ES256, not {private_key.curve.name}.")
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return "EdDSA"
    if isinstance(private_key, rsa.RSAPrivateKey):
        if private_key.key_size < MIN_RSA_BITS:
            raise KeyFileError(f"RSA keys must have at least {MIN_RSA_BITS} bits.")
        return "RS256"
    raise KeyFileError(f"{type(private_key).__name__} keys are not supported.")


def parse_pem_keys(data: bytes) -> list:
    """Every private key in a PEM bundle, in file order."""
    keys = []
    for block in _PEM_BLOCK.finditer(data):
        try:
            keys.append(serialization.load_pem_private_key(block.group(0), password=None))
        except (ValueError, TypeError) as error:
            raise KeyFileError(f"a PEM block could not be read as a private key: {error}") from None
    return keys


def asymmetric_key(private_key: Any, algorithm: str) -> Key:
    fits = algorithm_of(private_key)
    if fits != algorithm:
        raise KeyFileError(f"JWT_ALGORITHM is {algorithm}, but the file holds a key for {fits}.")
    public_key = private_key.public_key()
    jwk = _JWK_OF[algorithm](public_key, as_dict=True)
    kid = thumbprint(jwk)
    return Key(kid, private_key, public_key, {**jwk, "kid": kid, "alg": algorithm, "use": "sig"})


def symmetric_key(secret: str) -> Key:
    # Named by a keyed hash: a plain hash of the secret would let anyone test guesses.
    kid = (
        "hs256-"
        + salted_hmac("accounts.keys.kid", "kid", secret, algorithm="sha256").hexdigest()[:16]
    )
    return Key(kid, secret, secret, None)


def read_key_file(path: str | Path, algorithm: str) -> KeySet:
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise KeyFileError(f"JWT_PRIVATE_KEYS_FILE cannot be read: {error.strerror}.") from None
    private_keys = parse_pem_keys(data)
    if not private_keys:
        raise KeyFileError("JWT_PRIVATE_KEYS_FILE holds no private key in PEM form.")
    return KeySet(algorithm, tuple(asymmetric_key(key, algorithm) for key in private_keys))


@functools.lru_cache(maxsize=8)
def _cached_key_set(algorithm: str, path: str, stamp: tuple, secret: str) -> KeySet:
    if algorithm == SYMMETRIC:
        return KeySet(algorithm, (symmetric_key(secret),))
    return read_key_file(path, algorithm)


# Per (algorithm, file): the file's stamp when it last failed to load, and why (so that a
# broken file is read once per change, not on every request), and the last good keys.
_failures: dict[tuple[str, str], tuple[tuple, KeyFileError]] = {}
_last_good: dict[tuple[str, str], KeySet] = {}
_stale: set[tuple[str, str]] = set()
_reported: dict[tuple[str, str], tuple] = {}  # the broken state last logged


def read_key_set() -> KeySet:
    """The keys the settings give now; raises `KeyFileError` when they give none (the
    system checks and `jwt_keys` ask this)."""
    algorithm = settings.JWT_ALGORITHM
    if algorithm not in ALGORITHMS:
        raise KeyFileError(f"JWT_ALGORITHM must be one of {', '.join(ALGORITHMS)}.")
    path, stamp = "", (0, 0, 0)
    if algorithm != SYMMETRIC:
        path = settings.JWT_PRIVATE_KEYS_FILE
        if not path:
            raise KeyFileError(f"JWT_ALGORITHM={algorithm} needs JWT_PRIVATE_KEYS_FILE.")
        try:
            status = os.stat(path)
        except OSError as error:
            raise KeyFileError(f"JWT_PRIVATE_KEYS_FILE cannot be read: {error.strerror}.") from None
        stamp = (status.st_mtime_ns, status.st_size, status.st_ino)
    failed = _failures.get((algorithm, path))
    if failed is not None and failed[0] == stamp:
        raise failed[1]
    try:
        return _cached_key_set(algorithm, path, stamp, settings.GRAPHQL_JWT["JWT_SECRET_KEY"])
    except KeyFileError as error:
        _failures[(algorithm, path)] = (stamp, error)
        raise


def key_set() -> KeySet:
    """The keys in force: the file's, read again whenever it changes. A file that stops
    loading (a bad edit during a rotation) leaves the last good keys in force, logged
    at ERROR once per change of the file, and /readyz not ready until it loads again."""
    where = (settings.JWT_ALGORITHM, settings.JWT_PRIVATE_KEYS_FILE)
    try:
        keys = read_key_set()
    except KeyFileError as error:
        last = _last_good.get(where)
        if last is None:
            raise
        failed = _failures.get(where)
        seen = (failed[0] if failed else None, str(error))  # this state of the file
        if _reported.get(where) != seen:
            logger.error("Signing keys: %s Keeping the last good keys until it is fixed.", error)
            _reported[where] = seen
        _stale.add(where)
        return last
    _last_good[where] = keys
    _stale.discard(where)
    _reported.pop(where, None)
    return keys


def in_force() -> bool:
    """True when the keys in force are the ones the settings give now (for /readyz)."""
    try:
        key_set()
    except KeyFileError:
        return False
    return (settings.JWT_ALGORITHM, settings.JWT_PRIVATE_KEYS_FILE) not in _stale
