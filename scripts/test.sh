#!/usr/bin/env bash
# `make test`: every stage in order, each run to its end even when an earlier one failed, then one line
# over all of them: "N passed, N failed". A stage counts node:test's summaries (unit, lab) or its
# PASS:/FAIL: lines (e2e, fresh); a stage that fails without a failed test (a build error) counts as one.
#   scripts/test.sh [STAGE...]    default: unit lab e2e fresh
set -uo pipefail
cd "$(dirname "$0")/.."
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(unit lab e2e fresh)
mkdir -p build
total_pass=0 total_fail=0 rc=0 summary=()
for stage in "${stages[@]}"; do
  log=build/test-$stage.log
  t0=$(date +%s)
  echo "==== make $stage"
  make --no-print-directory "$stage" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  pass=$(awk '/^(ℹ|#) pass [0-9]+$/ { n += $3 } /^PASS: / { n++ } END { print n + 0 }' "$log")
  fail=$(awk '/^(ℹ|#) fail [0-9]+$/ { n += $3 } /^FAIL: / { n++ } END { print n + 0 }' "$log")
  if [ "$status" != 0 ]; then
    rc=1
    [ "$fail" -gt 0 ] || fail=1
  fi
  total_pass=$((total_pass + pass)) total_fail=$((total_fail + fail))
  summary+=("$(printf '%-6s %4d passed, %d failed, %ds%s' "$stage" "$pass" "$fail" $(($(date +%s) - t0)) "$([ "$status" = 0 ] || echo " (make $stage: exit $status)")")")
done
# What failed, repeated here at the end (CI shows the tail of a long log): node:test's own list of
# failing tests per file, and each FAIL: line with the indented lines after it.
for stage in "${stages[@]}"; do
  log=build/test-$stage.log
  grep -qE '^✖ failing tests:|^FAIL: |^(ℹ|#) fail [1-9]' "$log" 2>/dev/null || continue
  echo
  echo "==== failures in make $stage"
  awk '/^== / { file = $0 } /^✖ failing tests:/ { on = 1; print file; next } on && (/^== / || /^ℹ /) { on = 0 }
       /^FAIL: / { f = 1; print; next } f && /^ / { print; next } { f = 0 } on { print }' "$log" | head -n 150
done
echo
echo "==== make test: ${stages[*]}"
printf '%s\n' "${summary[@]}"
echo "$total_pass passed, $total_fail failed"
exit "$rc"
