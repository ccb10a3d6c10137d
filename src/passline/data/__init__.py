"""The data block: connectors, immutable dataset versions, profiles, quality, sensitivity."""
