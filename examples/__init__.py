"""Example code that belongs to the bundled feature repo, not to the kit: its demo stages, its ML-service helpers
and its synthetic events. The kit never imports this package statically; ``featurekit demo`` runs ``examples.demo``
by import path, and the benchmarks and tests import it from the project root."""
