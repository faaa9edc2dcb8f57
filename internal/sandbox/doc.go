// Package sandbox starts function instances as isolated process trees: own
// namespaces, an unprivileged uid, a read-only code folder, a private bounded
// /tmp, and cgroup limits.
//
// # How an instance is built
//
// The supervisor (the fgs process, running as root) creates the instance's
// cgroups, then re-executes its own binary with a marker in new user, pid,
// mount, ipc, uts and net namespaces.
// main must call [InitMain] first thing: in the re-executed child it takes
// over and never returns; everywhere else it returns at once.
//
// The child ("init") refuses to do anything unless it is pid 1 of a fresh pid
// namespace and its mount, pid and user namespaces all differ from the
// supervisor's (whose namespace ids arrive in an environment variable). Only
// then does it make / MS_REC|MS_PRIVATE and build the new root in a tmpfs:
// read-only binds of /usr (and /lib*, /bin, /sbin as on the host), a
// minimal /etc, the code folder at /opt/function/code, a fresh /proc, a small
// /dev and a bounded tmpfs /tmp. It pivots into that root and detaches the
// old one. Every mount call therefore happens in a mount namespace that
// nothing else uses; the supervisor itself never calls mount.
//
// # Users
//
// Each live instance has a host id range of its own: an [IDRanges] hands
// out ranges of 65536 ids (by default from host id 1000000), exclusive
// within the process and, through locks on /run/openfgs/host-ids.lock,
// between all openfgs processes on the host; a range is free again once
// every process of its instance is gone. The user namespace maps container
// ids 0..65535 to the range. Init runs as container root (the range's first
// id, powerful only inside its own namespaces, and unable to read or search
// host folders that are not open to others); the function runs as uid/gid
// 1000 (the range's first id + 1000) with no capabilities, no_new_privs, an
// empty capability bounding set and no supplementary groups. Nested user
// namespaces are disabled inside the sandbox (user.max_user_namespaces = 0
// for its namespace).
//
// The instance's user namespace is owned by its range's first id, not by
// root: the supervisor's spawning thread switches its effective uid to it
// for the clone. The kernel charges per-user limits (inotify instances,
// POSIX message queue bytes, pending signals, user namespaces) both to the
// uid inside and to the namespace owner outside, so an instance that uses
// up such a limit uses up its own and not host root's or another tenant's.
//
// # System calls and abstract sockets
//
// Right before it forks the program, init puts its own thread (and so the
// program, which inherits both) under a seccomp filter that makes kernel
// keys, POSIX message queues, io_uring, bpf, perf events, userfaultfd,
// mounts, setns, new user namespaces and tracing of other processes fail
// with EPERM (clone3 with ENOSYS, so that libc falls back to clone, whose
// flags the filter can read), and in a Landlock domain that may not connect
// to abstract unix sockets made outside it (see seccompDenied and
// scopeAbstractSockets).
//
// The code folder and the other read-only sources are opened by the
// supervisor, as root, with open_tree(OPEN_TREE_CLONE): a detached copy of
// each, a mount that belongs to no namespace (the host's mount table does
// not change). Init makes each read-only and private and attaches it in its
// own mount namespace with move_mount. So the sandbox's ids need no search
// permission on a source's parent folders: a data dir under /root works.
// (On kernels without open_tree, before 5.2, init binds sources by path,
// and every folder on the way must be searchable by others; Start checks
// that and says which folder is not.)
//
// # Network
//
// Every instance has a network namespace of its own, so it never sees the
// host's interfaces, its sockets (in /proc/net or as abstract unix
// sockets) or anything listening on the host's loopback. Init brings its
// loopback up. With NetworkOutbound the supervisor also gives it, while
// init builds the root, a TUN device served by package outbound: a way to
// addresses outside this host, never to the host itself. That work runs
// on a supervisor thread that joins the instance's network namespace,
// checks that it is there, and never runs anything else; nothing in the
// supervisor's own namespace changes.
//
// # The reaper
//
// Init stays as pid 1: it forks the function's program, reaps every orphan
// that is reparented to it, and when the program exits it reports the
// program's status to the supervisor over a pipe and exits, which makes the
// kernel kill whatever is left in the pid namespace. Stop sends SIGTERM to
// every process in the instance's cgroup and, at the deadline, SIGKILL to
// init, which takes the whole namespace (setsid'd grandchildren included)
// down with it. Init ignores SIGTERM itself, so a graceful stop is the
// program's to handle.
//
// # cgroups
//
// One cgroup per instance in each of the memory, pids and cpu hierarchies
// (v1: <mount>/openfgs/<ID>; on a pure v2 host: /sys/fs/cgroup/openfgs/<ID>).
// The supervisor writes init's pid to cgroup.procs before init is allowed to
// fork the program, so the program and all its descendants are born inside.
// An OOM kill is detected from the cgroup's oom_kill counter, and the cgroups
// are removed once the instance is gone.
//
// Everything here is Linux only; on other systems [Supported] and [Start]
// return an error.
package sandbox
