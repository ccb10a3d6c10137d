"""The Python SDK: :func:`passline.connect` returns a :class:`Client` on either transport."""

from passline.sdk.client import Client, connect

__all__ = ["Client", "connect"]
