"""``python -m task_api.cli``: the same as the ``task-api`` console script."""

import sys

from task_api.cli.main import main

sys.exit(main())
