"""Run the README's quick start exactly as written, in the current directory, then ``mmrecord --help``.

The commands are the ```bash blocks of the README's "Quick start" section, run
in order with bash; any failure stops the run with that command's status.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path


def quick_start_commands(readme: str) -> list[str]:
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, re.DOTALL)]


def main() -> int:
    commands = quick_start_commands(Path("README.md").read_text())
    if len(commands) != 2:
        print(f"the README's quick start should hold two commands, found {len(commands)}", file=sys.stderr)
        return 2
    for command in [*commands, ".venv/bin/mmrecord --help"]:
        print(f"$ {command}", flush=True)
        status = subprocess.run(["bash", "-euo", "pipefail", "-c", command]).returncode
        if status:
            print(f"failed with status {status}: {command}", file=sys.stderr)
            return status
    return 0


if __name__ == "__main__":
    sys.exit(main())
