"""Root of the test suite.

Fixtures that talk to real services live in ``tests/fixtures/`` (one module per service) and are registered
here, so any test directory can use them:

* ``tests.fixtures.docker``   — the real Docker engine (started by ``hack/docker-up.sh``) and image builds.
* ``tests.fixtures.registry`` — a real OCI registry with htpasswd authentication on loopback.
* ``tests.fixtures.testbed``  — the project's Kubernetes test bed (``hack/testbed``), namespaces, pushes.
* ``tests.fixtures.tenant``   — a namespace user of the test bed with only ``edit`` in one namespace (kubeconfig).
* ``tests.fixtures.sa_tenant`` — the same as a ServiceAccount with a token (``tenant_kubeconfig``).
* ``tests.fixtures.hostile_registry`` — a registry that misbehaves on purpose (drips, huge, loops), on loopback.
"""

import pytest

pytest_plugins = [
    "tests.fixtures.docker",
    "tests.fixtures.hostile_registry",
    "tests.fixtures.registry",
    "tests.fixtures.testbed",
    "tests.fixtures.tenant",
    "tests.fixtures.sa_tenant",
]


# Cheap and self-contained first, disruptive last: the chaos scenarios restart the API server, etcd and the
# registry, so they run after every test that merely uses the shared test bed.
_ORDER = ("tests/unit/", "tests/compat/", "tests/integration/", "tests/cluster/", "tests/e2e/", "tests/airflow/",
          "tests/security/", "tests/chaos/")  # fmt: skip


def _rank(item: pytest.Item) -> int:
    path = item.nodeid
    return next((i for i, prefix in enumerate(_ORDER) if path.startswith(prefix)), len(_ORDER))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable: the order inside each group is kept
