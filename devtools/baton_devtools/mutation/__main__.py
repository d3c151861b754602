import sys

from baton_devtools.mutation.runner import main

sys.exit(main())
