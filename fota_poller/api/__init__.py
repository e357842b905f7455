"""Talking to ThingSpace: the HTTP client, auth, tokens, credentials, decoding, redaction.

One request's path through this package: `client` (`UpgradeClient.get`, once per attempt of
`fota_poller.pacing.retry`) -> `token_admission` (the rate limit, then the headers from an
`auth.TokenSource`: `token_provider`, which times each token with `token_slot` and asks the
gateway through `token_requests`) -> the GET -> `response_body` (read, capped, decompressed)
-> `auth.rejected_token` (a 401/403 renews the token and sends again) -> the caller decodes
the body with `decode`. Off the path: `credentials` is read once at start and feeds the
provider; `redact` keeps every secret out of the logs.
"""
