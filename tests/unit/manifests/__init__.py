"""Tests of the deployment manifests (``manifests/``) and of the scripts that deploy them."""
