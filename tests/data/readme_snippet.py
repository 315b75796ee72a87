"""Runs the NumPy snippets of README.md against a study directory.

Usage: RNNDYN_STUDY=path/to/study python3 readme_snippet.py
Every ```python block of README.md is executed in order, with the study directory
`rnndyn-study` replaced by $RNNDYN_STUDY, so the README's examples cannot rot.
"""
import os
import pathlib
import re

readme = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text()
study = os.environ["RNNDYN_STUDY"]
blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
assert blocks, "README.md has no python snippet"
scope = {}
for code in blocks:
    exec(code.replace("rnndyn-study", study), scope)
print(f"ran {len(blocks)} README snippet(s)")
