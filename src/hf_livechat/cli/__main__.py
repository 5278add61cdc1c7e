"""`python -m hf_livechat.cli` (and `torchrun -m hf_livechat.cli`) runs the command line."""

import sys

from . import main


sys.exit(main())
