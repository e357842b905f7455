"""How fast requests go: rate limit, throttle after a 429, circuit, shared gate, retries."""
