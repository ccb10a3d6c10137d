"""REST routers, one per domain; each handler parses, calls one service method, returns."""
