"""``python -m task_api.agent``: run the node agent."""

from task_api.agent.app import main

raise SystemExit(main())
