"""``python -m lsgh_ee`` runs the command line."""

from lsgh_ee.cli import app

app(prog_name="lsgh-ee")
