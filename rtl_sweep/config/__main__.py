"""Print the config keys table: `python -m rtl_sweep.config` (docs/config_keys.md)."""

from rtl_sweep.config.keys import keys_markdown

print(keys_markdown())
