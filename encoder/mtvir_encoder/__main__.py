import sys

from .cli import export_main

sys.exit(export_main())
