"""Print the config keys table: `python -m rtl_sweep.config` (README.md's Config keys)."""

from rtl_sweep.config.keys import keys_markdown

print(keys_markdown())
