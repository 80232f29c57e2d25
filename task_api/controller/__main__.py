"""``python -m task_api.controller``: run the operator."""

from task_api.controller.app import main

raise SystemExit(main())
