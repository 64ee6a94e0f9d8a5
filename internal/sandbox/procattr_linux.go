package sandbox

import "syscall"

// groupAttr starts a run in a process group of its own, killed with
// kubewright if kubewright dies first.
func groupAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
