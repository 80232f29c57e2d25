"""Root of the test suite.

Fixtures that talk to real services live in ``tests/fixtures/`` (one module per service) and are registered
here, so any test directory can use them:

* ``tests.fixtures.docker``   — the real Docker engine (started by ``hack/docker-up.sh``) and image builds.
* ``tests.fixtures.registry`` — a real OCI registry with htpasswd authentication on loopback.
* ``tests.fixtures.testbed``  — the project's Kubernetes test bed (``hack/testbed``), namespaces, pushes.
"""

pytest_plugins = [
    "tests.fixtures.docker",
    "tests.fixtures.registry",
    "tests.fixtures.testbed",
]
