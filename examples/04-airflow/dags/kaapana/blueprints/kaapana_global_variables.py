"""Stand-in for Kaapana's ``kaapana.blueprints.kaapana_global_variables``, so the guide's DAG imports as written.

A Kaapana platform provides this module; outside one, the registry and the tag come from the environment
(``DEFAULT_REGISTRY``, ``KAAPANA_BUILD_VERSION``), defaulting to the test bed's registry and the tag the
end-to-end tests push. Airflow does not scan this folder for DAGs (``.airflowignore``).
"""

import os

DEFAULT_REGISTRY = os.environ.get("DEFAULT_REGISTRY", "127.0.0.1:5000/examples")
KAAPANA_BUILD_VERSION = os.environ.get("KAAPANA_BUILD_VERSION", "e2e")
