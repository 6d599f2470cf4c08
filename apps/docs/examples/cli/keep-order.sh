#!/usr/bin/env bash
# Jobs finish in any order; -k prints each job's output in input order anyway.
set -euo pipefail
seq 10 | lac -k -j 4 'sleep 0.0$((RANDOM % 9)); echo "item {}"'
