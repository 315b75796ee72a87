"""Runs the NumPy snippets of README.md against a study directory.

Usage: RNNDYN_STUDY=path/to/study python3 readme_snippet.py
Every ```python block of README.md is executed in order, with the study directory
`rnndyn-study` replaced by $RNNDYN_STUDY, so the README's examples cannot rot. Blocks that
use PyTorch are skipped (it is not a test dependency; `torch_forward.py` checks the same
equations in NumPy).
"""
import os
import pathlib
import re

readme = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text()
study = os.environ["RNNDYN_STUDY"]
blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
blocks = [b for b in blocks if not re.search(r"^\s*(import|from)\s+torch\b|import .*\btorch\b", b, flags=re.M)]
assert blocks, "README.md has no NumPy-only python snippet"
scope = {}
for code in blocks:
    exec(code.replace("rnndyn-study", study), scope)
print(f"ran {len(blocks)} README snippet(s)")
