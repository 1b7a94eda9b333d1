import sys

from fdstyle_core.cli.main import main

sys.exit(main())
