"""Settings: one validated model, one YAML file per environment, selected by ``FEATUREKIT_ENV``.

Everything that differs between ``local``, ``dev`` and ``prod`` lives in ``config/<env>.yaml``; code only reads the
typed :class:`Settings` and never compares environment names.
"""

from featurekit.config.loader import ConfigError, load_settings, project_root
from featurekit.config.settings import Settings

__all__ = ["ConfigError", "Settings", "load_settings", "project_root"]
