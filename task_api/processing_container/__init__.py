"""Kaapana's import path ``task_api.processing_container``: the models Kaapana's DAGs construct.

Kaapana's own Python library is also called ``task_api``, so it cannot be installed beside this one; DAGs written
for Kaapana import ``from task_api.processing_container import pc_models`` and build env entries and resources with
it (``pc_models.BaseEnv(name=..., value=...)``, ``pc_models.Resources(limits=...)``). :mod:`.pc_models` provides
those classes with Kaapana's names, fields and defaults; the Airflow operator accepts them wherever it accepts a
mapping. Pure: models only.
"""
