"""The use cases, one module per flow. Both doors (GraphQL and REST) call these and
nothing else; flows call the domain modules (`otp`, `sessions`, `passwords`, `limits`,
...), and nothing calls back up.

- `account`: what a number can do next (`user_status`); the account's lifecycle.
- `codes`: texting a one-time code (`send_otp`).
- `login`: logging in with a code or a fixed password (`login`, `staff_login`).
- `tokens`: refresh, verify and revoke tokens; who an access token names.
- `sessions`: a person's own sessions, listed and ended.
- `passwords`: setting and changing the fixed password.
- `metrics`: who may scrape /metrics.

Every function takes raw client input as keyword arguments, raises only `AccountsError`
subclasses for anything a client did, and returns plain values (`common`). Every refusal
is logged once, by `common.use_case`, with its reason, the masked number and the client's
IP; codes and passwords never reach a log.
"""
