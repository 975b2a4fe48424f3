"""JWT_CLAIMS_HOOK functions for the tests, as a product would write them."""


def role(user, method):
    return {"role": "staff" if user.is_staff else "member", "loginMethod": method}


def overreaching(user, method):
    return {"role": "member", "sub": "0", "tenant": object()}
