"""The ``featurekit`` command line: one module per command group, assembled in :mod:`featurekit.cli.main`."""
