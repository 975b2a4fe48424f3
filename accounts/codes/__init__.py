"""One-time codes: issued, checked and pruned (`otp`), texted (`delivery`, `tasks`)
through a pluggable SMS provider (`sms`)."""
