# Sourced by the load-test scripts: hold /tmp/bench.lock on descriptor 9 for the rest of the run, so
# no two load runs overlap, unless a caller up the process tree already holds it
# (`flock /tmp/bench.lock scripts/bench.sh …`): a second lock on a new descriptor would wait for
# that caller forever.

bench_lock_held_by_caller() {
  local inode pid=$$
  inode=$(stat -c %i /tmp/bench.lock 2>/dev/null) || return 1
  while [ "$pid" -gt 1 ]; do
    grep -qE "^[0-9]+: FLOCK +ADVISORY +WRITE +$pid +[0-9a-f]+:[0-9a-f]+:$inode " /proc/locks && return 0
    pid=$(awk '{ sub(/.*\) /, ""); print $2 }' "/proc/$pid/stat")
  done
  return 1
}

hold_bench_lock() {
  bench_lock_held_by_caller && return 0
  exec 9>/tmp/bench.lock
  flock 9
}
