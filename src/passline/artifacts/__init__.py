"""Content-addressed artifact storage."""

from passline.artifacts.store import ArtifactStore, BlobInfo, open_store

__all__ = ["ArtifactStore", "BlobInfo", "open_store"]
