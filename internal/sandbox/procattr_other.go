//go:build !linux

package sandbox

import "syscall"

// groupAttr starts a run in a process group of its own. Only Linux has a
// parent-death signal; elsewhere there is no bubblewrap either, so Detect
// reports the sandbox unavailable and nothing runs.
func groupAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
