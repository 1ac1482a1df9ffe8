# shellcheck shell=bash
# Sourced by the scripts that start servers: free_port [TAKEN…] prints a TCP port free on 127.0.0.1
# now, other than TAKEN, the ports the caller has chosen but not bound yet: the kernel may hand out
# the same free port twice in a row (nginx and the gateway were once both given one).

free_port() {
  local port taken
  while :; do
    port=$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
    for taken in "$@"; do
      [ "$port" = "$taken" ] && continue 2
    done
    echo "$port"
    return 0
  done
}
