"""python3 -m azure_pylib COMMAND ...: the template's tools, one command each.

setup            the feed, its retention and roles; a library's pipelines
promote          a published version into a view of the feed
publish          a library's built files onto the feed, read back
doctor           why pip, uv or twine cannot use the feed, with the fix
template-update  a library's pull request to the template's newest release
release          check that a tag is a whole release of the template
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = argv[0] if argv else ""
    if command in ("setup", "promote"):
        from azure_pylib import feed_setup

        return feed_setup.main(argv)
    if command == "publish":
        from azure_pylib import publish

        return publish.main(argv[1:])
    if command == "doctor":
        from azure_pylib import doctor

        return doctor.main(argv[1:])
    if command == "template-update":
        from azure_pylib import template_update

        return template_update.main(argv[1:])
    if command == "release":
        from azure_pylib import releases

        return releases.main(argv[1:])
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
