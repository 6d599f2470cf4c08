#!/usr/bin/env bash
# Convert every .txt file (names with spaces included) to an upper-case .upper file, 4 at a time.
set -euo pipefail
dir=$(mktemp -d) && trap 'rm -rf "$dir"' EXIT && cd "$dir"
printf 'hello\n' > 'first file.txt'; printf 'world\n' > '$(touch pwned); x.txt'
# -0 reads NUL-separated names; {} is the item, {.} the item without its extension, both shell-quoted.
printf '%s\0' *.txt | lac -0 -j 4 'tr a-z A-Z < {} > {.}.upper'
head -- *.upper
[ -e pwned ] || echo 'odd names were passed as data, never executed'
