"""Password hashing: Argon2id at OWASP's parameters."""

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idPasswordHasher(Argon2PasswordHasher):
    """Argon2id with OWASP's recommended parameters: 19 MiB of memory, 2 passes, 1 lane.

    Django's own Argon2 hasher uses 100 MiB and 8 lanes, several times slower per login
    on a small server for no gain an attacker would notice. Hashes made with other
    parameters (or by PBKDF2) are upgraded to these on the next successful login.
    """

    algorithm = "argon2"
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
