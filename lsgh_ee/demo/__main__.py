"""``python -m lsgh_ee.demo OUT_DIR [--seed N]``: regenerate the demo region."""

from lsgh_ee.demo.build import main

raise SystemExit(main())
