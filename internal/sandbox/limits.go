package sandbox

import (
	"bytes"
	"fmt"
	"strconv"
	"syscall"
	"time"
)

// Limits bound one run. Zero fields take the Sandbox's (Or).
type Limits struct {
	// CPU is the CPU time of each process (RLIMIT_CPU, whole seconds);
	// a process that spends it is killed.
	CPU time.Duration
	// Memory is the memory of each process (RLIMIT_DATA, bytes).
	Memory int64
	// Procs are the processes and threads of the run's user together
	// (RLIMIT_NPROC).
	Procs int
	// FileSize is the largest file a process may write (RLIMIT_FSIZE).
	FileSize int64
	// OpenFiles are the open files of each process (RLIMIT_NOFILE).
	OpenFiles int
	// Tmp is the size of /tmp, a tmpfs (so it is memory, too).
	Tmp int64
	// Disk is how much the writable mounts may hold together; it is
	// polled every DiskPoll.
	Disk int64
	// Output is how much of stdout and stderr together is kept; the
	// rest is counted and dropped.
	Output int
}

// DiskPoll is how often the writable mounts are measured.
const DiskPoll = 500 * time.Millisecond

// DefaultLimits fit `go build`, `go vet` and `go test` of a service with
// a few dozen dependencies.
func DefaultLimits() Limits {
	return Limits{
		CPU:       10 * time.Minute,
		Memory:    2 << 30,
		Procs:     512,
		FileSize:  1 << 30,
		OpenFiles: 4096,
		Tmp:       1 << 30,
		Disk:      4 << 30,
		Output:    1 << 20,
	}
}

// Or fills l's zero fields from d.
func (l Limits) Or(d Limits) Limits {
	if l.CPU <= 0 {
		l.CPU = d.CPU
	}
	if l.Memory <= 0 {
		l.Memory = d.Memory
	}
	if l.Procs <= 0 {
		l.Procs = d.Procs
	}
	if l.FileSize <= 0 {
		l.FileSize = d.FileSize
	}
	if l.OpenFiles <= 0 {
		l.OpenFiles = d.OpenFiles
	}
	if l.Tmp <= 0 {
		l.Tmp = d.Tmp
	}
	if l.Disk <= 0 {
		l.Disk = d.Disk
	}
	if l.Output <= 0 {
		l.Output = d.Output
	}
	return l
}

func (l Limits) cpuSeconds() int {
	s := int((l.CPU + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}

// prlimitArgs are prlimit's options for l; soft and hard limits are the
// same, so nothing inside can raise them.
func (l Limits) prlimitArgs() []string {
	return []string{
		"--cpu=" + strconv.Itoa(l.cpuSeconds()),
		"--data=" + strconv.FormatInt(l.Memory, 10),
		"--nproc=" + strconv.Itoa(l.Procs),
		"--fsize=" + strconv.FormatInt(l.FileSize, 10),
		"--nofile=" + strconv.Itoa(l.OpenFiles),
		"--core=0",
	}
}

// Limit names a limit a run ran into.
type Limit string

const (
	// LimitTime: the caller's context ended (its deadline, or it was
	// cancelled) and the run was killed.
	LimitTime Limit = "time"
	// LimitDisk: the writable mounts held more than Limits.Disk and the
	// run was killed.
	LimitDisk Limit = "disk"
	// LimitMemory: a process reported running out of memory.
	LimitMemory Limit = "memory"
	// LimitProcs: a process could not start a process or thread.
	LimitProcs Limit = "processes"
	// LimitCPU: a process was killed, which inside the sandbox is the
	// CPU-time limit (or the kernel's out-of-memory killer).
	LimitCPU Limit = "cpu"
	// LimitFileSize: a process could not write past Limits.FileSize.
	LimitFileSize Limit = "file size"
)

// Describe says what the limit was, for messages.
func (l Limits) Describe(which Limit) string {
	switch which {
	case LimitMemory:
		return Bytes(l.Memory) + " of memory per process"
	case LimitProcs:
		return strconv.Itoa(l.Procs) + " processes and threads"
	case LimitCPU:
		return l.CPU.String() + " of CPU time per process"
	case LimitFileSize:
		return Bytes(l.FileSize) + " per file"
	case LimitDisk:
		return Bytes(l.Disk) + " of files in the writable directories"
	}
	return string(which)
}

// signatures are what the processes inside print when a limit stops them:
// the Go runtime, the go command (reporting a child's end) and libc.
var signatures = []struct {
	limit Limit
	text  []byte
}{
	{LimitMemory, []byte("fatal error: out of memory")},
	{LimitMemory, []byte("runtime: out of memory")},
	{LimitMemory, []byte("cannot allocate memory")},
	{LimitProcs, []byte("failed to create new OS thread")},
	{LimitProcs, []byte("pthread_create failed")},
	{LimitProcs, []byte("resource temporarily unavailable")},
	{LimitFileSize, []byte("file too large")},
	{LimitFileSize, []byte("File size limit exceeded")},
	{LimitCPU, []byte("CPU time limit exceeded")},
	{LimitCPU, []byte("signal: killed")},
}

// reported finds the limit a failed run ran into: named in its output,
// or told by how the command itself ended (bwrap exits with 128+signal).
// The output is untrusted: code can print these words itself, which only
// changes what its own run reports.
func reported(out []byte, exitCode int) Limit {
	for _, s := range signatures {
		if bytes.Contains(out, s.text) {
			return s.limit
		}
	}
	switch exitCode {
	case 128 + int(syscall.SIGKILL), 128 + int(syscall.SIGXCPU):
		return LimitCPU
	case 128 + int(syscall.SIGXFSZ):
		return LimitFileSize
	}
	return ""
}

// Bytes formats n as "512 MiB".
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d %ciB", int64(v), "KMGTP"[exp])
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTP"[exp])
}
