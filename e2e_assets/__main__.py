import sys

from e2e_assets.cli import main

sys.exit(main())
