import sys

from benchmarks.faultproxy.cli import main

sys.exit(main())
