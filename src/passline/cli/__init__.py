"""The ``passline`` command line: noun-verb commands, one module per noun."""
