"""What a logged-in person holds: sessions and their rotating refresh tokens
(`lifecycle`), access tokens (`access_tokens`) signed by `keys` with the product's own
`claims`, and ended sessions known to every worker (`revocation`)."""
