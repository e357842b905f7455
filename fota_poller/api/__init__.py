"""The HTTP client, decoding, auth headers, tokens, credentials and redaction."""
