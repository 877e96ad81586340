"""`python -m isovox` runs the command line."""
import sys

from isovox.host.cli import main

sys.exit(main())
