"""Stop before anything is written when the answers went unchecked.

The checks run in hooks/answers.py, a Jinja extension that cookiecutter loads
only if the answers' `_extensions` names it; an edited replay file or a config
without it would skip them all, and this hook is rendered either way.
"""

import sys
import tempfile
from pathlib import Path

# cookiecutter runs a rendered copy of this hook from the temporary folder and
# leaves it there.
if Path(__file__).parent.resolve() == Path(tempfile.gettempdir()).resolve():
    Path(__file__).unlink(missing_ok=True)

if (
    "{{ 'hooks.answers.AnswerChecks' in cookiecutter.get('_extensions', []) }}"
    != "True"
):
    sys.exit(
        "_extensions: these answers (an edited replay file or config) do not name"
        " hooks.answers.AnswerChecks, so nothing checked them and nothing is"
        ' generated: keep `"_extensions": ["hooks.answers.AnswerChecks"]` as'
        " cookiecutter.json has it, or bake without that file"
    )
