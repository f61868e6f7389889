"""``featurekit demo``: the whole platform end to end on the embedded local environment."""
