"""Who a person is: their number (read once, into E.164), their fixed password and its
lockout, and the hasher that keeps it."""
