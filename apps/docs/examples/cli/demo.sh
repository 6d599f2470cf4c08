#!/usr/bin/env bash
# The limited_as_completed demo: 100 tasks, task n sleeps 1/n s, 10 at a time. Show its summary line.
set -euo pipefail
lac demo | tail -n 1
