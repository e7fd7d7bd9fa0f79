import sys

from spanlens_pipeline.cli import main

sys.exit(main())
