"""Pure building blocks: ids, refs, roles and the entities every surface returns. No I/O."""
