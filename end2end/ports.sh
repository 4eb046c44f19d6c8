# Port helpers for the test harness's shell scripts (sourced by end2end/envtest/up.sh and
# .ci/postgres). A port chosen free and bound later can be taken in between, so callers start
# their server on a candidate, check that the process they started is the one listening
# (`listens_on`), and start it again on another candidate when it is not.

# A loopback port free now, from below the kernel's ephemeral range: the ports the system
# hands out for `:0` binds and outgoing connections never collide with it.
candidate_port() {
  local ephemeral low p hex
  ephemeral=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  low=$(( ephemeral - 1000 < 10000 ? ephemeral - 1000 : 10000 ))
  for _ in $(seq 1 200); do
    p=$(( low + (RANDOM * 32768 + RANDOM) % (ephemeral - low) ))
    [[ -n "${_candidate_taken[$p]:-}" ]] && continue
    hex=$(printf ':%04X ' "$p")
    # Skip a port with any socket on it (listening or connected).
    if ! awk '{print $2" "}' /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep -qi -- "$hex"; then
      _candidate_taken[$p]=1
      echo "$p"
      return 0
    fi
  done
  echo "no free loopback port below $ephemeral in 200 tries" >&2
  return 1
}
declare -A _candidate_taken=()

# Whether process $1 holds the socket listening on loopback port $2.
listens_on() {
  local pid=$1 port=$2 hex inode
  hex=$(printf '%04X' "$port")
  # /proc/net/tcp: field 2 local address, field 4 state (0A = LISTEN), field 10 inode.
  for inode in $(awk -v p=":$hex" 'toupper(substr($2, length($2) - 4)) == p && $4 == "0A" {print $10}' \
      /proc/net/tcp /proc/net/tcp6 2>/dev/null); do
    if ls -l "/proc/$pid/fd" 2>/dev/null | grep -q "socket:\[$inode\]"; then
      return 0
    fi
  done
  return 1
}
