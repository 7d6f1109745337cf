# Shared by scripts/services.sh and scripts/slurm-local.sh: the prologue of a
# script that runs throwaway daemons under a directory. Source it after
# setting SCRIPT_NAME; it defines:
#   die MSG...             print "SCRIPT_NAME: MSG" to stderr, exit 1
#   usage                  print "usage: scripts/SCRIPT_NAME start|stop|env DIR", exit 2
#   parse_cmd_dir "$@"     check the two arguments; set CMD and DIR (absolute,
#                          created, no whitespace)
#   pid_alive PID          true for a live process (not a zombie)
#   port_in_use PORT       true when something accepts on 127.0.0.1:PORT
#   free_port [PREFERRED]  a loopback port nobody listens on, PREFERRED when
#                          it is free; drawn below the kernel's ephemeral
#                          range, so an outgoing connection of another process
#                          cannot hold a port a daemon is about to bind

die() {
  echo "$SCRIPT_NAME: $*" >&2
  exit 1
}

usage() {
  echo "usage: scripts/$SCRIPT_NAME start|stop|env DIR" >&2
  exit 2
}

parse_cmd_dir() {
  (($# == 2)) || usage
  CMD=$1
  mkdir -p "$2" || die "cannot create $2"
  DIR=$(cd "$2" && pwd -P)
  [[ $DIR != *[[:space:]]* ]] || die "DIR must not contain spaces: '$DIR'"
}

# A live process, not a zombie (containers whose init reaps nothing keep
# killed daemons as zombies, which `kill -0` still finds).
pid_alive() {
  local state
  [[ -n ${1:-} ]] || return 1
  state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [[ -n $state && $state != Z && $state != X ]]
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
  local p=${1:-} lo=20000 hi=32000 eph
  if [[ -n $p ]] && ! port_in_use "$p"; then
    echo "$p"
    return
  fi
  eph=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  ((eph > lo + 1000)) && hi=$((eph - 1))
  for _ in $(seq 1 200); do
    p=$((lo + RANDOM % (hi - lo)))
    if ! port_in_use "$p"; then
      echo "$p"
      return
    fi
  done
  die "no free loopback port found"
}
