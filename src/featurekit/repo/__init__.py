"""The feature repo as the kit sees it: Feast configuration from settings, loading definitions with the file each
one comes from, repository rules, and applying to an environment's registry."""
