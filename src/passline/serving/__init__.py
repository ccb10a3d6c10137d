"""The serving gateway: registered models behind HTTP, with a prediction log and metrics."""
