"""The use cases, one module per use case. The doors (GraphQL, REST, the admin) call
these; flows call the services below them (`identity`, `codes`, `sessions`, `abuse`,
`outbound`), and nothing calls back up.

- `number_status`: what a number can do next (`user_status`).
- `send_code`: texting a one-time code (`send_otp`).
- `login`: logging in with a code or a fixed password (`login`, `staff_login`).
- `token_exchange`: refresh, verify and revoke tokens; who an access token names.
- `manage_sessions`: a person's own sessions, listed and ended.
- `password_change`: setting and removing the fixed password.
- `change_number`, `delete_account`: the account's number moved, the account deleted.
- `reauthentication`: the fresh proof a sensitive change takes (step-up).
- `metrics_access`: who may scrape /metrics.

Every function takes raw client input as keyword arguments, raises only `AccountsError`
subclasses for anything a client did, and returns plain values (`use_case`). Every
refusal is logged once, by `use_case.use_case`, with its reason, the masked number and
the client's IP; codes and passwords never reach a log.
"""
