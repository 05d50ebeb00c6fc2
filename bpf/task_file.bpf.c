// SPDX-License-Identifier: GPL-2.0 OR MIT
//
// portscope's owner scan in the kernel: an `iter/task_file` program, called once for every
// open file of every task the reader's PID namespace sees. For each file whose inode is a
// socket it writes one binary record (pid, fd, inode, flags) to the iterator's seq_file; the
// loader (src/collect/linux/bpf_iter.rs) reads the records from the iterator's fd.
//
// Build (the committed bpf/task_file.bpf.o is this, .ci/run rebuilds it and checks it loads
// and agrees with the /proc scan):
//   scripts/build-bpf   (clang -target bpf -g -O2, then llvm-strip -g: DWARF out, BTF kept)
//
// No generated vmlinux.h: the few kernel structs read are declared below with
// preserve_access_index, so libbpf/aya relocate each field to this kernel's layout (CO-RE)
// through /sys/kernel/btf/vmlinux. A struct or member added here must be added to the list in
// src/collect/linux/btf_slim.rs (STRUCTS), which keeps only what is listed.
//
// What it must match (src/collect/linux/procfs.rs): /proc/PID/fd is the thread-group
// leader's descriptor table, so a thread with a table of its own is skipped, unless the
// leader has none left (its main thread exited): then the thread's sockets are emitted with
// FLAG_THREAD under the process id, and user space merges them exactly as the /proc scan
// reads PID/task/TID/fd.

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;

// From the kernel's UAPI (include/uapi/linux/bpf.h), the constants used.
enum bpf_map_type { BPF_MAP_TYPE_HASH = 1, BPF_MAP_TYPE_ARRAY = 2 };

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define FLAG_THREAD 1

struct seq_file;
struct pid_namespace;

struct upid {
	int nr;
	struct pid_namespace *ns;
} __attribute__((preserve_access_index));

struct pid {
	unsigned int level;
	struct upid numbers[1];
} __attribute__((preserve_access_index));

struct files_struct;

struct task_struct {
	int pid;
	int tgid;
	struct task_struct *group_leader;
	struct pid *thread_pid;
	struct files_struct *files;
} __attribute__((preserve_access_index));

struct inode {
	unsigned short i_mode;
	unsigned long i_ino;
} __attribute__((preserve_access_index));

struct file {
	struct inode *f_inode;
} __attribute__((preserve_access_index));

// The iterator's context and meta data are a fixed ABI (64-bit slots), read as declared: no
// relocation, so the loader's slim BTF (src/collect/linux/btf_slim.rs) need not carry them.
struct bpf_iter_meta {
	struct seq_file *seq;
	__u64 session_id;
	__u64 seq_num;
};

struct bpf_iter__task_file {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
	__u32 fd;
	struct file *file;
};

// One record; the loader reads the same 16-byte layout (native endianness).
struct record {
	__u32 pid;
	__u32 fd;
	__u64 inode;
};

// The wanted socket inodes (value unused). The loader sizes it when it loads the program and
// refills it before each read.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, __u8);
} wanted SEC(".maps");

// Per-run state, zeroed by the loader before each read:
//   [STATE_LAST_TASK] the task of the previous call (a task's files come one after another),
//   [STATE_PROCESSES] the processes whose descriptor table was walked (the /proc scan's
//                     "processes scanned"; it only matters whether it is zero),
//   [STATE_FILTER]    nonzero: emit only the sockets in `wanted` (set by the loader).
#define STATE_LAST_TASK 0
#define STATE_PROCESSES 1
#define STATE_FILTER 2
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} state SEC(".maps");

static __always_inline __u64 *slot(__u32 key)
{
	return bpf_map_lookup_elem(&state, &key);
}

// The number of `task` at level `level` of the PID namespace hierarchy, or 0 when `task` is
// not visible there (the iterator only visits visible tasks; this is the defensive case).
static __always_inline __u32 pid_at(struct pid *p, unsigned int level, struct pid_namespace *ns)
{
	struct upid up = {};
	unsigned int plevel = BPF_CORE_READ(p, level);

	if (plevel < level || level > 31)
		return 0;
	if (bpf_core_read(&up, sizeof(up), &p->numbers[level]))
		return 0;
	if (up.ns != ns)
		return 0;
	return up.nr;
}

SEC("iter/task_file")
int task_file(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct task_struct *leader, *me;
	struct pid *mine, *theirs;
	struct pid_namespace *ns;
	struct record rec;
	struct upid up = {};
	unsigned int level;
	__u32 flags = 0;
	__u64 ino;
	__u16 mode;

	__u64 *last, *processes, *filter;

	if (!task || !file)
		return 0;
	last = slot(STATE_LAST_TASK);
	processes = slot(STATE_PROCESSES);
	filter = slot(STATE_FILTER);
	if (!last || !processes || !filter)
		return 0;
	if (*last != (__u64)task) {
		*last = (__u64)task;
		if (BPF_CORE_READ(task, group_leader) == task)
			*processes += 1;
	}
	mode = BPF_CORE_READ(file, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return 0;
	ino = BPF_CORE_READ(file, f_inode, i_ino);
	if (*filter && !bpf_map_lookup_elem(&wanted, &ino))
		return 0;

	leader = BPF_CORE_READ(task, group_leader);
	if (leader != task) {
		// A thread visited here has a descriptor table other than its leader's (the
		// kernel skips threads sharing it). /proc/PID/fd shows the leader's only.
		if (BPF_CORE_READ(leader, files))
			return 0;
		flags = FLAG_THREAD;
	}

	// The reader's PID namespace: the level and namespace of the reading task's own pid.
	me = bpf_get_current_task_btf();
	mine = BPF_CORE_READ(me, thread_pid);
	level = BPF_CORE_READ(mine, level);
	if (level > 31)
		return 0;
	if (bpf_core_read(&up, sizeof(up), &mine->numbers[level]))
		return 0;
	ns = up.ns;

	theirs = BPF_CORE_READ(leader, thread_pid);
	rec.pid = pid_at(theirs, level, ns);
	if (!rec.pid)
		return 0;
	rec.fd = ctx->fd;
	rec.inode = ino | ((__u64)flags << 63);
	bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
