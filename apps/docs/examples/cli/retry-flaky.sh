#!/usr/bin/env bash
# Retry flaky jobs up to 3 times and keep GNU parallel's job log.
set -euo pipefail
dir=$(mktemp -d) && trap 'rm -rf "$dir"' EXIT && cd "$dir"
# A job that fails on its first attempt for each item, then succeeds.
printf '#!/bin/sh\n[ -e "seen-$1" ] && echo "deployed $1" && exit 0\ntouch "seen-$1"; exit 1\n' > deploy.sh
chmod +x deploy.sh
lac -k --retries 3 --joblog jobs.tsv ./deploy.sh {} ::: alpha beta gamma
cut -f 7,9 jobs.tsv   # Exitval and Command columns: every job ended with 0
