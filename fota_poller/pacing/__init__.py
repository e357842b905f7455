"""How fast requests go: rate limit, throttle after a 429, circuit, shared back-off, retries."""
