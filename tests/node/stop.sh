#!/usr/bin/env bash
# Stops what start.sh WORKDIR started and cleans up: kubelet, every pod sandbox/container (CNI teardown by
# containerd where it still can), containerd, the shims, mounts under WORKDIR, the kernel settings kubelet changed.
# Does not delete the Node object (delete it with kubectl if the control plane lives on).
# Usage: stop.sh WORKDIR [--rm]   (--rm also deletes WORKDIR)
set -uo pipefail
w=$(cd "${1:?usage: stop.sh WORKDIR [--rm]}" && pwd)
sock=$w/containerd/containerd.sock

stop_pid() { # $1 = pid file; TERM, then KILL after 10 s
  [ -f "$1" ] || return 0
  local pid; pid=$(cat "$1")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$1"
}

[ -f "$w/watcher.pid" ] && [ "$(cat "$w/watcher.pid")" != "$$" ] && stop_pid "$w/watcher.pid"
stop_pid "$w/kubelet.pid"

# Containers and sandboxes: kill the tasks, then remove them through containerd so that the
# shims exit; CNI teardown (veth, IP) happens when the sandbox netns is unmounted and deleted below.
if [ -f "$w/containerd.pid" ] && kill -0 "$(cat "$w/containerd.pid")" 2>/dev/null; then
  c="ctr --address $sock -n k8s.io"
  for id in $($c tasks ls -q 2>/dev/null); do $c tasks kill -s SIGKILL "$id" >/dev/null 2>&1; done
  sleep 0.5
  for id in $($c tasks ls -q 2>/dev/null); do $c tasks delete -f "$id" >/dev/null 2>&1; done
  for id in $($c containers ls -q 2>/dev/null); do
    $c containers delete "$id" >/dev/null 2>&1
    rm -f /var/lib/cni/results/*-"$id"-*   # libcni's cache of a sandbox that got no CNI DEL
  done
fi
stop_pid "$w/containerd.pid"
# Shims left behind (containerd killed first, or a crash): their pid files live in the state dir.
for f in "$w"/containerd/state/io.containerd.runtime.v2.task/*/*/shim.pid "$w"/containerd/state/io.containerd.runtime.v2.task/*/*/init.pid; do
  [ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
done
# Mounts under the work dir (rootfs overlays, sandbox shm, netns, kubelet tmpfs volumes), deepest first.
for _ in 1 2 3; do
  mounts=$(awk -v p="$w/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
  [ -z "$mounts" ] && break
  for m in $mounts; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
done
# The CNI bridge, once no pod is attached to it.
if [ -f "$w/bridge-name" ] && [ -z "$(ls "/sys/class/net/$(cat "$w/bridge-name")/brif" 2>/dev/null)" ]; then
  ip link del "$(cat "$w/bridge-name")" 2>/dev/null
fi
# containerd's parent cgroup for pod containers (/k8s.io in each v1 hierarchy), when empty (runc removed its children).
for h in /sys/fs/cgroup/*/k8s.io; do rmdir "$h" 2>/dev/null; done
# Kernel settings kubelet changed.
if [ -f "$w/sysctl.saved" ]; then
  { read -r a; read -r b; read -r c; } <"$w/sysctl.saved"
  sysctl -qw vm.overcommit_memory="$a" kernel.panic="$b" kernel.panic_on_oops="$c"
fi
[ "${2:-}" = --rm ] && rm -rf "$w"
exit 0
